"""Score trained runs on labelled data they never trained on, without training: how well do they generalize?

DATA is a folder with Real/ and Fake/ sub-folders (any case), a folder in either Kaggle layout
(Dataset/{Train,Validation,Test}/{Real,Fake}/, or faces_224/ with metadata.csv), a folder holding several of those,
or a CSV of path,label (label real/fake or 0/1; relative paths are relative to the CSV). Every image is screened by the same
rules as `data` (bad files are counted skips with reasons), resized exactly as in training and scored with the run's
validation-chosen threshold (calibrated with the run's temperature when it has one). Results go to
runs/<model>/external/<NAME>/ (metrics.json, predictions.csv), replacing an earlier evaluation of that NAME whole.

--robustness scores each run's own test split (from --manifest) under JPEG re-compression, blur, downscaling and
noise at several severities, into runs/<model>/robustness.json (computed once per model file, then reused);
--cost measures CPU latency, throughput, parameters and file size into runs/<model>/cost.json.
"""
from __future__ import annotations

import argparse
import sys

from deepfake_zoo.arguments import positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `evaluate` flags to `parser`."""
    parser.add_argument("data", nargs="?", default=None, metavar="DATA",
                        help="labelled folder (Real/ and Fake/, or a Kaggle layout) or CSV of path,label")
    parser.add_argument("--name", default=None, metavar="NAME",
                        help="name of this evaluation set: results go to runs/<model>/external/NAME/ "
                             "(default: the folder's or CSV's name)")
    parser.add_argument("--model", default="all", metavar="NAME",
                        help="runs to score: a name, a glob (*_frozen), a family, a comma list, or all (default)")
    parser.add_argument("--runs", default="runs", metavar="DIR", help="folder holding the trained runs (default: runs)")
    parser.add_argument("--batch-size", type=positive_int, default=32, metavar="N",
                        help="images scored per model call (default: 32)")
    parser.add_argument("--robustness", action="store_true",
                        help="score each run's test split under JPEG, blur, downscale and noise perturbations "
                             "(runs/<model>/robustness.json, reused while the model file is unchanged)")
    parser.add_argument("--manifest", default="build/splits.csv", metavar="CSV",
                        help="the manifest the runs were trained on, for --robustness (default: build/splits.csv)")
    parser.add_argument("--limit", type=positive_int, default=None, metavar="N",
                        help="--robustness scores a seeded sample of N test images instead of all of them")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --limit sample and the noise (default: 0)")
    parser.add_argument("--force", action="store_true", help="recompute robustness.json even when it is current")
    parser.add_argument("--cost", action="store_true",
                        help="measure CPU latency (batch 1), throughput (batch 32), parameters and file size "
                             "(runs/<model>/cost.json)")


def run(args: argparse.Namespace) -> int:
    """Run the requested evaluations and print a table for each; returns 0, or 2 when no usable run matches."""
    from deepfake_zoo.predict import evaluate
    from deepfake_zoo.predict.models import ModelChoiceError

    if args.data is None and not (args.robustness or args.cost):
        print("deepfake-zoo evaluate: error: nothing to do: pass DATA (a labelled folder or CSV), --robustness or "
              "--cost", file=sys.stderr)
        return 2
    try:
        if args.data is not None:
            results = evaluate.evaluate_folder(args.data, name=args.name, model=args.model, runs=args.runs,
                                               batch_size=args.batch_size)
            print(evaluate.external_table(results))
        if args.robustness:
            results = evaluate.evaluate_robustness(model=args.model, runs=args.runs, manifest=args.manifest,
                                                   limit=args.limit, seed=args.seed, batch_size=args.batch_size,
                                                   force=args.force)
            print(evaluate.robustness_table(results))
        if args.cost:
            print(evaluate.cost_table(evaluate.evaluate_cost(model=args.model, runs=args.runs, seed=args.seed)))
    except ModelChoiceError as exc:
        print(f"deepfake-zoo evaluate: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run `evaluate` alone (as `python -m deepfake_zoo.predict.evaluate_cli`)."""
    parser = argparse.ArgumentParser(prog="deepfake-zoo evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
