"""The leakage audit every manifest build runs: no group and no identical file may sit in two splits."""
from __future__ import annotations

import pandas as pd

SPLITS = ("train", "val", "test")


class LeakageError(ValueError):
    """A group or a byte-identical file appears in more than one split (or the manifest breaks its contract)."""


def _straddlers(df: pd.DataFrame, key: str) -> pd.Series:
    splits = df.groupby(key)["split"].nunique()
    return splits[splits > 1]


def audit_leakage(df: pd.DataFrame) -> list[str]:
    """Check a manifest for leaks and return one line per set of identical files (duplicates kept in one split).

    Raises LeakageError when a `group` or a `sha256` spans two splits, when identical files carry different labels,
    or when a split or label value is outside the contract.

    >>> audit_leakage(load_manifest("build/splits.csv"))[:1]  # doctest: +SKIP
    ['2 identical files (sha256 1f3a..., train): .../a.jpg, .../b.jpg']
    """
    problems = []
    bad_splits = sorted(set(df["split"]) - set(SPLITS))
    if bad_splits:
        problems.append(f"unknown split name(s) {bad_splits}")
    bad_labels = sorted(set(df["label"].tolist()) - {0, 1})
    if bad_labels:
        problems.append(f"label value(s) {bad_labels} are neither 0 (real) nor 1 (fake)")
    for key, what in (("group", "group"), ("sha256", "identical file (sha256)")):
        leaks = _straddlers(df, key)
        if len(leaks):
            examples = []
            for value in leaks.index[:5]:
                rows = df[df[key] == value]
                examples.append(f"{value} in {sorted(set(rows['split']))}")
            problems.append(f"{len(leaks)} {what} value(s) span several splits, e.g. " + "; ".join(examples))
    labels = df.groupby("sha256")["label"].nunique()
    conflicting = labels[labels > 1]
    if len(conflicting):
        problems.append(f"{len(conflicting)} identical file(s) carry both labels, e.g. sha256 {conflicting.index[0]}")
    if problems:
        raise LeakageError("leakage audit failed: " + " | ".join(problems)
                           + "; rebuild the manifest with `make data` instead of editing it")
    duplicates = []
    copies = df[df.duplicated("sha256", keep=False)].sort_values(["sha256", "path"])
    for sha, rows in copies.groupby("sha256", sort=True):
        shown = ", ".join(rows["path"].head(3))
        more = f" (+{len(rows) - 3} more)" if len(rows) > 3 else ""
        duplicates.append(f"{len(rows)} identical files (sha256 {sha[:12]}..., {rows['split'].iloc[0]}): "
                          f"{shown}{more}")
    return duplicates


def audit_holdout(trained: pd.DataFrame, held_out: pd.DataFrame) -> None:
    """Raise LeakageError when a held-out image reaches the rows a model learns or is selected on (train and val):
    the same path, the same group or a byte-identical file (sha256).

    >>> audit_holdout(frame[frame.split != "test"], held)  # doctest: +SKIP
    """
    problems = []
    for key, what in (("path", "file"), ("group", "group"), ("sha256", "identical file (sha256)")):
        if key not in trained.columns or key not in held_out.columns:
            continue
        shared = sorted(set(trained[key].astype(str)) & set(held_out[key].astype(str)))
        if shared:
            problems.append(f"{len(shared)} held-out {what} value(s) in train/val, e.g. {shared[0]}")
    if problems:
        raise LeakageError("holdout audit failed: " + " | ".join(problems)
                           + "; held-out sources must never be trained or validated on")
