"""Build an ensemble run: the mean calibrated P(fake) of the top-k runs chosen on validation ROC AUC (never test).

It is written to runs/<name>/ like any search result (model.keras, metrics.json with its members, predictions), so
predict, evaluate and the leaderboard use it as they use any run. Members must share one manifest; they may take
different image sizes (the ensemble takes the largest and resizes for the others).
"""
from __future__ import annotations

import argparse

from deepfake_zoo.search.ensemble import DEFAULT_TOP_K


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--top-k", type=int, default=DEFAULT_TOP_K,
                        help=f"how many runs to average, best validation ROC AUC first (default: {DEFAULT_TOP_K})")
    parser.add_argument("--runs", default="runs", help="folder holding the runs, where the ensemble is written too")
    parser.add_argument("--name", help="the ensemble's run folder name (default: ensemble_top<k>)")
    parser.add_argument("--models", help="only runs whose folder name matches this shell pattern, e.g. 'mobilenet*'")


def run(args: argparse.Namespace) -> int:
    from deepfake_zoo.search.ensemble import build_ensemble, summary

    metrics = build_ensemble(args.runs, top_k=args.top_k, name=args.name, models=args.models)
    print(summary(metrics, args.runs))
    return 0
