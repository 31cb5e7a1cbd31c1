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

from deepfake_zoo.runfiles import (HEADLINE_METRICS, RERUN_FIX, EvaluationSet, RunFileError, add_cross_mean,
                                   check_file, is_number, lookup_number, read_json, read_metrics, readable_text,
                                   run_folders)

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
    evaluation_sets: list[EvaluationSet] = field(default_factory=list)  # in-domain test, external, held-out
    robustness: dict[str, Any] | None = None
    cost: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None
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
        run.robustness = _read_optional(run, "robustness.json", _read_robustness)
        run.cost = _read_optional(run, "cost.json", _read_cost)
        run.evaluation_sets, notes = add_cross_mean(folder, metrics)
        run.notes.extend(notes)
        if metrics.get("calibration") is not None:
            try:
                run.calibration = _check_calibration(metrics["calibration"])
            except ValueError as err:
                run.notes.append(f"metrics.json calibration was ignored: {err}")
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


# A robustness.json holds four perturbations of two to four levels; a reliability diagram 15 bins. Far more is not
# a file the search wrote, and would only make the page huge.
MAX_LEVELS = 50
MAX_BINS = 200


def _optional_number(block: dict, key: str, where: str) -> float | None:
    value = block.get(key)
    if value is not None and not is_number(value):
        raise ValueError(f"{where}{key} is {_shown(value)}, not a number")
    return None if value is None else float(value)


def _shown(value: Any) -> str:
    text = f"a {type(value).__name__}" if isinstance(value, (dict, list)) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _read_robustness(path: Path) -> dict[str, Any]:
    """{split, n, clean_roc_auc, perturbations: {kind: {parameter, levels, roc_auc}}} from robustness.json."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise ValueError(f"holds {_shown(data)}, not an object")
    perturbations = data.get("perturbations")
    if not isinstance(perturbations, dict) or not perturbations:
        raise ValueError("perturbations is not an object {kind: {parameter, levels, roc_auc, accuracy}}")
    clean = data.get("clean")
    out: dict[str, Any] = {
        "split": readable_text(str(data.get("split") or "test")),
        "n": _optional_number(data, "n", ""),
        "clean_roc_auc": _optional_number(clean, "roc_auc", "clean ") if isinstance(clean, dict) else None,
        "perturbations": {},
    }
    for kind, block in perturbations.items():
        where = f"perturbation {_shown(kind)} "
        if not isinstance(block, dict):
            raise ValueError(f"{where}is not an object")
        levels, aucs = block.get("levels"), block.get("roc_auc")
        if not (isinstance(levels, list) and isinstance(aucs, list) and 0 < len(levels) == len(aucs) <= MAX_LEVELS):
            raise ValueError(f"{where}needs lists levels and roc_auc of the same length (1 to {MAX_LEVELS})")
        if not all(is_number(v) for v in levels):
            raise ValueError(f"{where}has a level that is not a number")
        if not all(v is None or is_number(v) for v in aucs):
            raise ValueError(f"{where}has a roc_auc that is not a number")
        out["perturbations"][kind] = {"parameter": readable_text(str(block.get("parameter") or "severity")),
                                      "levels": [float(v) for v in levels],
                                      "roc_auc": [None if v is None else float(v) for v in aucs]}
    return out


def _read_cost(path: Path) -> dict[str, Any]:
    """cost.json: latency_ms_per_image (required, > 0) and the optional throughput, parameters and file size."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise ValueError(f"holds {_shown(data)}, not an object")
    latency = _optional_number(data, "latency_ms_per_image", "")
    if latency is None or latency <= 0:
        raise ValueError("latency_ms_per_image is missing or not a positive number")
    out = {"latency_ms_per_image": latency}
    for key in ("throughput_images_per_s", "params_total", "model_file_bytes", "repeats", "batch_size",
                "image_size"):
        out[key] = _optional_number(data, key, "")
    out["device"] = readable_text(str(data.get("device") or "cpu"))
    return out


def _check_calibration(block: Any) -> dict[str, Any]:
    """The metrics.json calibration block with its numbers checked and its reliability bins as plain points."""
    if not isinstance(block, dict):
        raise ValueError(f"it is {_shown(block)}, not an object")
    out: dict[str, Any] = {key: _optional_number(block, key, "") for key in (
        "temperature", "threshold", "ece_before", "ece_after", "brier_before", "brier_after", "bins", "n_test",
        "n_validation")}
    for side in ("before", "after"):
        bins = block.get(f"reliability_{side}")
        if bins is None:
            out[f"reliability_{side}"] = []
            continue
        if not isinstance(bins, list) or len(bins) > MAX_BINS or not all(isinstance(b, dict) for b in bins):
            raise ValueError(f"reliability_{side} is not a list of at most {MAX_BINS} bins")
        points = []
        for b in bins:
            mean, frac, n = (_optional_number(b, k, f"reliability_{side} ") for k in ("mean_prob", "fraction_fake",
                                                                                      "n"))
            if mean is not None and frac is not None and n:
                points.append((mean, frac, int(n)))
        out[f"reliability_{side}"] = points
    if not out["reliability_before"] and not out["reliability_after"]:
        raise ValueError("it has no reliability bins with images")
    return out
