"""Serve a local web page where a person drops an image or a short video and sees whether it looks deepfaked.

The page boxes each face, shows P(fake) per face against the model's threshold with a Grad-CAM heatmap, and says
plainly which model answered and how far to trust it (its test accuracy and ROC AUC, and the data it was trained
on). `POST /api/predict` (multipart field `file`) returns what `predict --json` returns. The server binds 127.0.0.1
unless --host says otherwise, loads the model once, bounds upload size, pixels and its queue, and keeps nothing.
"""
from __future__ import annotations

import argparse
import sys

from deepfake_zoo.arguments import positive_int
from deepfake_zoo.predict.models import DEFAULT_RANK_BY, ModelChoiceError


def _port(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `serve` flags to `parser`."""
    parser.add_argument("--model", default=None, metavar="NAME", help="use runs/NAME instead of the best run")
    parser.add_argument("--runs", default="runs", metavar="DIR", help="folder holding the trained runs (default: runs)")
    parser.add_argument("--rank-by", default=None, metavar="METRIC",
                        help=f"metrics.json key that picks the best run, as for predict (default: {DEFAULT_RANK_BY}, "
                             "or test roc_auc when no run has one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this computer only)")
    parser.add_argument("--port", type=_port, default=8000, help="port to listen on (default: 8000)")
    parser.add_argument("--faces", choices=("auto", "crop", "none"), default="auto",
                        help="face step, as for predict (default: auto)")
    parser.add_argument("--frames", type=positive_int, default=16, metavar="N",
                        help="frames sampled evenly from each video (default: 16)")
    parser.add_argument("--max-upload-mb", type=positive_int, default=20, metavar="MB",
                        help="largest upload accepted, in MB (default: 20)")
    parser.add_argument("--queue", type=positive_int, default=4, metavar="N",
                        help="requests waiting or being scored at once; more get 503 (default: 4)")


def run(args: argparse.Namespace) -> int:
    """Choose the run and serve it until interrupted; 2 when no usable model."""
    from deepfake_zoo.predict.models import choose_run
    from deepfake_zoo.predict.serve import Limits, serve

    try:
        chosen = choose_run(args.runs, model=args.model, rank_by=args.rank_by)
    except ModelChoiceError as exc:
        print(f"deepfake-zoo serve: {exc}", file=sys.stderr)
        return 2
    limits = Limits(max_bytes=args.max_upload_mb * 1024 * 1024, max_pending=args.queue, frames=args.frames)
    serve(chosen, host=args.host, port=args.port, limits=limits, faces=args.faces)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run `serve` alone (as `python -m deepfake_zoo.predict.serve_cli`)."""
    parser = argparse.ArgumentParser(prog="deepfake-zoo serve", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
