"""The `deepfake-zoo` command: parses arguments and hands each subcommand to the package that owns it."""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from deepfake_zoo.quiet import debug_enabled, import_tensorflow_quietly

# Each subcommand lives in its own package as `<package>.cli` with `add_arguments(parser)` and `run(args) -> int`,
# so a package owns its flags and this file only wires them; imports are lazy so a subcommand loads only its own package.
SUBCOMMANDS = {
    "data": ("deepfake_zoo.datasets.cli", "build the shared leakage-free split manifest (build/splits.csv) from a data folder"),
    "list": ("deepfake_zoo.zoo.cli", "list every registered model: family, input size, parameters, frozen, weights"),
    "search": ("deepfake_zoo.search.cli", "run an Optuna (or Keras Tuner) hyperparameter search per model; results in runs/<model>/"),
    "leaderboard": ("deepfake_zoo.leaderboard.cli", "render leaderboard/index.html from the results under runs/"),
    "predict": ("deepfake_zoo.predict.cli", "say whether images, folders or videos are deepfaked, with the best (or a named) model"),
    "serve": ("deepfake_zoo.predict.serve_cli", "serve a local web page (and JSON API) that says whether a dropped image or video is deepfaked"),
    "evaluate": ("deepfake_zoo.predict.evaluate_cli", "score trained runs on any labelled folder or CSV, and their robustness and cost"),
    "ensemble": ("deepfake_zoo.search.ensemble_cli", "average the calibrated P(fake) of the top-k runs chosen on validation into an ensemble run"),
    "bench": ("deepfake_zoo.bench_cli", "measure the feature cache, input pipeline and memory; writes bench/results.json"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepfake-zoo",
        description="Model zoo and hyperparameter-search benchmark for deepfake face detection.",
    )
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own start-up and log lines (as DEEPFAKE_ZOO_DEBUG=1 also does)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip())
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    verbose = "--verbose" in argv or debug_enabled()
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        # Several subcommands' modules import Keras; loading TensorFlow first, quietly, keeps its C++ banner out.
        import_tensorflow_quietly(verbose)
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:
        print("deepfake-zoo: interrupted while starting; nothing was read or written", file=sys.stderr)
        return 130
    # Handled above; the subcommands' settings stay exactly their own flags.
    del args.verbose
    try:
        code = int(args._module.run(args) or 0)
        if args.command == "search" and code == 0 and not getattr(args, "dry_run", False):
            # The leaderboard reads only runs/, so refreshing it here keeps the arrows pointing one way.
            from deepfake_zoo.leaderboard.render import write_leaderboard

            page = write_leaderboard(args.runs or "runs")
            print(f"leaderboard: {page}")
        return code
    except (OSError, ValueError, LookupError, RuntimeError) as err:
        # Expected failures (missing data, unavailable weights, bad settings) are one sentence, not a traceback;
        # DEEPFAKE_ZOO_DEBUG=1 shows the traceback when the sentence is not enough.
        if debug_enabled():
            raise
        print(f"deepfake-zoo {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
