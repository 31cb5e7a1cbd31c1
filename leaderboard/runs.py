"""Read the result folders under runs/ into plain Python objects, tolerating anything missing or broken.

Only files are read (formats in docs/design.md), never the code that wrote them, so results produced on another
machine render the same. metrics.json is read and checked by `deepfake_zoo.runfiles`, as `predict` reads it; a
folder whose `metrics.json` is missing or unusable becomes a `SkippedRun` with a reason, and a broken optional file
(predictions, trials, importances, history) only adds a note to its run, whatever the file holds.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepfake_zoo.runfiles import (HEADLINE_METRICS, RERUN_FIX, RunFileError, check_file, is_number, lookup_number,
                                   read_json, read_metrics, readable_text, run_folders)

# A test split of a million images is about 100 MB of predictions.csv; anything far beyond was not written by a search.
MAX_CSV_BYTES = 512 * 1024 * 1024


@dataclass
class RunResult:
    """One model's results: `metrics` is metrics.json as a dict; the optional tables are None when absent."""

    name: str
    folder: Path
    metrics: dict[str, Any]
    predictions: pd.DataFrame | None = None
    val_predictions: pd.DataFrame | None = None
    trials: pd.DataFrame | None = None
    importances: dict[str, float] | None = None
    history: dict[str, list[float]] | None = None
    notes: list[str] = field(default_factory=list)

    def value(self, key: str) -> float | None:
        """The number at `key` in metrics.json (dots reach nested keys: `per_source.demo.accuracy`), else None."""
        return lookup_number(self.metrics, key)


@dataclass
class SkippedRun:
    """A folder under runs/ that could not be shown, and why (one sentence naming the fix)."""

    folder: Path
    reason: str


def load_runs(runs_dir: str | Path = "runs") -> tuple[list[RunResult], list[SkippedRun]]:
    """Load every run folder of `runs_dir`; returns (usable runs, skipped folders with reasons).

    Never raises on what a run folder holds; raises FileNotFoundError / NotADirectoryError (one sentence) when
    `runs_dir` itself is not a folder, so a mistyped path never yields an empty page.

    >>> runs, skipped = load_runs("runs")
    """
    runs: list[RunResult] = []
    skipped: list[SkippedRun] = []
    for folder in run_folders(runs_dir):
        try:
            metrics = read_metrics(folder)
            if not any(is_number(metrics.get(k)) for k in HEADLINE_METRICS):
                raise RunFileError(f"metrics.json has none of the test metrics {', '.join(HEADLINE_METRICS)}; "
                                   f"{RERUN_FIX}")
        except RunFileError as err:
            skipped.append(SkippedRun(folder, str(err)))
            continue
        run = RunResult(name=metrics.get("model") or readable_text(folder.name), folder=folder, metrics=metrics)
        run.predictions = _read_optional(run, "predictions.csv", _read_predictions)
        run.val_predictions = _read_optional(run, "val_predictions.csv", _read_predictions)
        run.trials = _read_optional(run, "trials.csv", _read_trials)
        run.importances = _read_optional(run, "importances.json", _read_importances)
        run.history = _read_optional(run, "history.json", _read_history)
        runs.append(run)
    _disambiguate_names(runs)
    return runs, skipped


def _disambiguate_names(runs: list[RunResult]) -> None:
    # Two folders can hold the same model (e.g. a copy from another machine); the folder name tells them apart.
    seen: dict[str, int] = {}
    for run in runs:
        seen[run.name] = seen.get(run.name, 0) + 1
    for run in runs:
        if seen[run.name] > 1:
            run.name = f"{run.name} ({readable_text(run.folder.name)})"


def _read_optional(run: RunResult, name: str, reader) -> Any:
    path = run.folder / name
    try:
        if not path.is_file():
            return None
        return reader(path)
    except (OSError, ValueError) as err:  # RunFileError is a ValueError
        run.notes.append(f"{name} was ignored: {err}")
        return None


def _read_csv(path: Path) -> pd.DataFrame:
    check_file(path, MAX_CSV_BYTES)
    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as err:  # pandas' ParserError, EmptyDataError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"not a readable CSV ({str(err).strip().splitlines()[0] if str(err).strip() else err!r})")


def _read_predictions(path: Path) -> pd.DataFrame:
    frame = _read_csv(path)
    missing = [c for c in ("label", "prob_fake") if c not in frame.columns]
    if missing:
        raise ValueError(f"lacks the column(s) {', '.join(missing)}")
    label = pd.to_numeric(frame["label"], errors="coerce")
    prob = pd.to_numeric(frame["prob_fake"], errors="coerce")
    if frame.empty or not label.isin([0, 1]).all():
        raise ValueError("label must be 0 (real) or 1 (fake) on every row")
    if prob.isna().any() or not prob.between(0.0, 1.0).all():
        raise ValueError("prob_fake must be a probability in [0, 1] on every row")
    frame = frame.assign(label=label.astype(int), prob_fake=prob.astype(float))
    if "pred" in frame.columns:
        pred = pd.to_numeric(frame["pred"], errors="coerce")
        if not pred.isin([0, 1]).all():
            raise ValueError("pred must be 0 (real) or 1 (fake) on every row")
        frame["pred"] = pred.astype(int)
    if "source" in frame.columns:
        frame["source"] = frame["source"].astype(str)
    return frame


def _read_trials(path: Path) -> pd.DataFrame:
    frame = _read_csv(path)
    missing = [c for c in ("number", "state", "value") if c not in frame.columns]
    if missing:
        raise ValueError(f"lacks the column(s) {', '.join(missing)}")
    frame = frame.assign(
        number=pd.to_numeric(frame["number"], errors="coerce"),
        value=pd.to_numeric(frame["value"], errors="coerce"),
        state=frame["state"].astype(str).str.upper().str.replace("TRIALSTATE.", "", regex=False),
    )
    if not np.isfinite(frame["number"].to_numpy(dtype=float)).all():
        raise ValueError("number must be an integer on every row")
    if "intermediate" in frame.columns:
        frame["intermediate"] = [_parse_series(v) for v in frame["intermediate"]]
    return frame.sort_values("number").reset_index(drop=True)


def _parse_series(text: Any) -> list[float]:
    # A bad cell costs one trial's curve, not the whole optimisation history.
    try:
        values = json.loads(text) if isinstance(text, str) else []
    except (ValueError, RecursionError):
        return []
    if isinstance(values, dict):
        values = [values[k] for k in sorted(values, key=lambda k: float(k) if _is_float(k) else math.inf)]
    return [float(v) for v in values if is_number(v)] if isinstance(values, list) else []


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_importances(path: Path) -> dict[str, float]:
    data = read_json(path)
    if not isinstance(data, dict) or not all(is_number(v) for v in data.values()):
        raise ValueError("expected an object {parameter: importance number}")
    return {str(k): float(v) for k, v in data.items()}


def _read_history(path: Path) -> dict[str, list[float]]:
    data = read_json(path)
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ValueError("expected an object {curve name: [one number per epoch]}")
    curves = {str(k): [float(x) if is_number(x) else math.nan for x in v] for k, v in data.items()}
    return {k: v for k, v in curves.items() if v}
