"""List every registered model: family, input size, parameters (total and trainable), whether the backbone is frozen,
and where its weights come from. Filter with a name, a family, a glob like 'inception*', a comma list, or 'all'."""
from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `deepfake-zoo list`."""
    parser.add_argument("pattern", nargs="?", default=None,
                        help="model name, family, glob ('inception*'), comma list, or 'all' (default: all)")
    parser.add_argument("--model", default=None, help="same as the positional pattern (the Makefile's MODEL)")
    parser.add_argument("--no-params", action="store_true",
                        help="skip counting parameters (counting builds each model once with random weights)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per model instead of a table")


def weights_origin(entry) -> str:
    """Where `entry`'s default weights come from, in words: the cached file, the file to fetch, or random init."""
    from deepfake_zoo.zoo.weights import find_weights_file, keras_cache_dirs

    if entry.default_weights == "none":
        return "none (random init)"
    found = find_weights_file(entry.weights_file)
    if found is not None:
        return f"imagenet ({found})"
    return f"imagenet (missing: {entry.weights_file} goes in {keras_cache_dirs()[0]})"


def describe(entry, count_params: bool = True) -> dict:
    """One row of the listing as a dict: the fields `deepfake-zoo list` prints."""
    total = trainable = None
    if count_params:
        total, trainable = entry.count_params()
    training = "frozen" if entry.frozen else ("finetune" if entry.finetune else "scratch")
    return {"model": entry.name, "family": entry.family, "input_size": entry.input_size, "sizes": list(entry.sizes),
            "params_total": total, "params_trainable": trainable, "frozen": entry.frozen, "backbone": training,
            "weights": weights_origin(entry), "tags": list(entry.tags), "doc": entry.doc}


def _count(n) -> str:
    return "-" if n is None else f"{n:,}"


def run(args: argparse.Namespace) -> int:
    """Print the listing; returns 2 (with a message on stderr) when the pattern matches no model."""
    from deepfake_zoo import zoo

    spec = args.model or args.pattern or "all"
    try:
        names = zoo.resolve_models(spec)
    except zoo.UnknownModelError as exc:
        print(f"deepfake-zoo list: {exc}", file=sys.stderr)
        return 2
    rows = []
    for name in names:
        rows.append(describe(zoo.get_model(name), count_params=not args.no_params))
        # Each count builds a full model; free it before the next so listing every model stays within memory.
        zoo.reset_session()
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    header = ("model", "family", "size", "params", "trainable", "backbone", "weights")
    table = [header] + [(r["model"], r["family"], str(r["input_size"]), _count(r["params_total"]),
                         _count(r["params_trainable"]), r["backbone"], r["weights"]) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    return 0
