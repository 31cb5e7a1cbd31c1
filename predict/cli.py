"""Say whether images, folders (searched recursively) and videos are deepfaked, with the best trained model.

The model is the run under --runs with the highest --rank-by metric (validation ROC AUC, as on the leaderboard), or
--model NAME.
Each input gets a label (real/fake), P(fake), the model used and its decision threshold, chosen on validation.
Images are screened as `data` screens them (too many pixels or transparent pixels: skipped), then every face is
found, cropped like the training crops and scored: one verdict per face (box, P(fake), label), and the image is fake
when any face is (its P(fake) is the largest). --faces auto (default) scores an image that is already a tight face
crop, or has no face, as a whole (with a note); --faces crop requires a face; --faces none resizes the whole image
as before. Videos are sampled at --frames evenly spaced frames, the largest face in each is cropped and scored, and
the video's P(fake) is the mean over the frames with a face. --explain DIR writes a Grad-CAM heatmap per face and an
index.html summary into DIR.

Exit status: 0 every input scored, 1 some input not scored (unreadable, unsupported, undecodable, skipped by
screening, or no face), 2 usage error or no usable model (train one with `make data` then `make search MODEL=cnn`).
"""
from __future__ import annotations

import argparse
import sys

from deepfake_zoo.arguments import positive_int
from deepfake_zoo.predict.models import DEFAULT_RANK_BY, ModelChoiceError



def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `predict` flags to `parser`."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image, video or folder (searched recursively)")
    parser.add_argument("--model", default=None, metavar="NAME",
                        help="use runs/NAME instead of the best run")
    parser.add_argument("--runs", default="runs", metavar="DIR", help="folder holding the trained runs (default: runs)")
    parser.add_argument("--rank-by", default=None, metavar="METRIC",
                        help="metrics.json key that picks the best run, as on the leaderboard: e.g. accuracy, eer, "
                             f"roc_auc (test) (default: {DEFAULT_RANK_BY}, or test roc_auc when no run has one; EER, "
                             "losses, times and sizes rank smallest first)")
    parser.add_argument("--frames", type=positive_int, default=16, metavar="N",
                        help="frames sampled evenly from each video (default: 16)")
    parser.add_argument("--batch-size", type=positive_int, default=32, metavar="N",
                        help="images scored per model call (default: 32)")
    parser.add_argument("--faces", choices=("auto", "crop", "none"), default="auto",
                        help="auto: crop each face unless the image is already a face crop or has none (default); "
                             "crop: require a face; none: score the whole image resized")
    parser.add_argument("--tta-flip", action="store_true",
                        help="average P(fake) of each image and its mirror (test-time augmentation; twice the work)")
    parser.add_argument("--explain", nargs="?", const="explain", default=None, metavar="DIR",
                        help="write a Grad-CAM heatmap PNG per face and an index.html summary into DIR "
                             "(default DIR: explain)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print a JSON report instead of a table")
    output.add_argument("--csv", action="store_true", help="print one CSV row per input instead of a table")


def run(args: argparse.Namespace) -> int:
    """Score every input and print the report; returns 0 all scored, 1 some failed, 2 no usable model."""
    from deepfake_zoo.predict import report
    from deepfake_zoo.predict.models import choose_run
    from deepfake_zoo.predict.scoring import Predictor

    try:
        chosen = choose_run(args.runs, model=args.model, rank_by=args.rank_by)
        predictor = Predictor(chosen, batch_size=args.batch_size, faces=args.faces,
                              keep_inputs=args.explain is not None, flip=args.tta_flip)
    except ModelChoiceError as exc:
        print(f"deepfake-zoo predict: {exc}", file=sys.stderr)
        return 2
    verdicts = predictor.predict_paths(args.paths, frames=args.frames)
    if args.explain is not None:
        from deepfake_zoo.predict.explain import write_explanations

        page = write_explanations(predictor, verdicts, args.explain)
        print(f"explanations: {page}", file=sys.stderr)
    if args.json:
        print(report.to_json(verdicts, chosen, chosen.ranked_by, tta_flip=predictor.flip))
    elif args.csv:
        print(report.to_csv(verdicts), end="")
    else:
        print(report.to_table(verdicts, chosen, chosen.ranked_by))
    return 0 if all(v.ok for v in verdicts) else 1


def main(argv: list[str] | None = None) -> int:
    """Run `predict` alone (as `python -m deepfake_zoo.predict.cli`), without the other subcommands' packages."""
    parser = argparse.ArgumentParser(prog="deepfake-zoo predict", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
