"""Render leaderboard/index.html from the results under runs/: one self-contained page (open it from disk, no
server or network) with the ranked table, ROC curves, confusion matrices, score histograms, optimisation histories,
parameter importances, the cross-dataset matrix, the generalization matrix (test split, external sets, held-out
sources), robustness curves, reliability diagrams and ROC AUC against latency. Run folders with missing or broken
files are listed on the page, never fatal. Produce results first with `make data` and `make search MODEL=cnn`."""
from __future__ import annotations

import argparse
import sys

from deepfake_zoo.leaderboard.render import build_leaderboard, metric_label
from deepfake_zoo.runfiles import DEFAULT_RANK_BY


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `deepfake-zoo leaderboard` flags to `parser`."""
    parser.add_argument("--runs", default="runs", help="folder holding one sub-folder per model (default: runs)")
    parser.add_argument("--out", default="leaderboard/index.html",
                        help="where to write the page (default: leaderboard/index.html)")
    parser.add_argument("--rank-by", default=None,
                        help="metrics.json key to rank by, e.g. roc_auc (test), accuracy, eer, f1, or "
                             "cross_mean_roc_auc (mean ROC AUC over the external and held-out sets) "
                             f"(default: {DEFAULT_RANK_BY}, so the test columns stay a report, or test roc_auc when "
                             "no run has one; EER, losses, times and sizes rank smallest first)")


def run(args: argparse.Namespace) -> int:
    """Write the page; returns 0, or 2 (one sentence on stderr, any existing page left as it was) when --runs is
    not a folder, --rank-by names a key no run has, or the page cannot be written."""
    try:
        board = build_leaderboard(args.runs, args.rank_by)
        path = board.write(args.out)
    except (OSError, ValueError) as err:
        print(f"deepfake-zoo leaderboard: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path}: {len(board.runs)} model(s) ranked by {metric_label(board.rank_by)}"
          + (f", {len(board.skipped)} run folder(s) skipped (listed on the page)" if board.skipped else ""))
    if not board.runs:
        print("no results yet: run `make data`, then `make search MODEL=cnn`")
    return 0
