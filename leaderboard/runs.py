"""Read the result folders under runs/ into plain Python objects, tolerating anything missing or broken.

Only files are read (formats in docs/design.md), never the code that wrote them, so results produced on another
machine render the same. A folder whose `metrics.json` is missing or unusable becomes a `SkippedRun` with a reason;
a broken optional file (predictions, trials, importances, history) only adds a note to its run.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

HEADLINE_METRICS = ("accuracy", "roc_auc", "eer", "average_precision", "f1")
NUMERIC_FIELDS = HEADLINE_METRICS + (
    "threshold", "image_size", "params_total", "params_trainable", "n_test", "best_value", "wall_time_s",
    "inference_images_per_s", "seed", "epochs",
)
# Key endings where a smaller number is the better result; every other metric ranks larger-first. Times end in
# `_time_s`/`duration_s`, not a bare `_s`, because `inference_images_per_s` is a rate where more is better.
LOWER_IS_BETTER = ("eer", "loss", "_time_s", "duration_s", "seconds", "params_total", "params_trainable")


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


def is_number(value: Any) -> bool:
    """True for a finite int/float that is not a bool (JSON true/false are ints in Python)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def lookup_number(metrics: dict[str, Any], key: str) -> float | None:
    """Follow `key` (dot-separated) through nested dicts; a whole key containing dots is tried first."""
    if key in metrics:
        return float(metrics[key]) if is_number(metrics[key]) else None
    node: Any = metrics
    parts = key.split(".")
    i = 0
    while i < len(parts):
        if not isinstance(node, dict):
            return None
        # Source names may themselves contain dots, so take the longest prefix that is a real key.
        for j in range(len(parts), i, -1):
            candidate = ".".join(parts[i:j])
            if candidate in node:
                node, i = node[candidate], j
                break
        else:
            return None
    return float(node) if is_number(node) else None


def lower_is_better(key: str) -> bool:
    """Whether ranking by `key` puts the smallest value first (EER, losses, times, sizes)."""
    return key.split(".")[-1].endswith(LOWER_IS_BETTER)


def load_runs(runs_dir: str | Path = "runs") -> tuple[list[RunResult], list[SkippedRun]]:
    """Load every sub-folder of `runs_dir`; returns (usable runs, skipped folders with reasons). Never raises on
    bad content: a missing `runs_dir` simply has no runs.

    >>> runs, skipped = load_runs("runs")
    """
    root = Path(runs_dir)
    if not root.is_dir():
        return [], []
    runs: list[RunResult] = []
    skipped: list[SkippedRun] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        try:
            metrics = _read_metrics(folder)
        except ValueError as err:
            skipped.append(SkippedRun(folder, str(err)))
            continue
        run = RunResult(name=str(metrics.get("model") or folder.name), folder=folder, metrics=metrics)
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
            run.name = f"{run.name} ({run.folder.name})"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path.name} is not readable JSON ({err})") from err


def _read_metrics(folder: Path) -> dict[str, Any]:
    path = folder / "metrics.json"
    if not path.is_file():
        raise ValueError("no metrics.json (the search did not finish or failed); rerun `make search MODEL=...` "
                         "for it or delete the folder")
    metrics = _read_json(path)
    fix = "; rerun the search for this model or delete the folder"
    if not isinstance(metrics, dict):
        raise ValueError(f"metrics.json holds a {type(metrics).__name__}, not an object{fix}")
    if not any(is_number(metrics.get(k)) for k in HEADLINE_METRICS):
        raise ValueError(f"metrics.json has none of the test metrics {', '.join(HEADLINE_METRICS)}{fix}")
    for key in NUMERIC_FIELDS:
        value = metrics.get(key)
        if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)):
            raise ValueError(f"metrics.json field {key} is {value!r}, not a number{fix}")
    if metrics.get("confusion_matrix") is not None:
        if not _is_confusion_matrix(metrics["confusion_matrix"]):
            raise ValueError(f"metrics.json confusion_matrix is not [[tn, fp], [fn, tp]] of counts{fix}")
        metrics["confusion_matrix"] = [[int(c) for c in row] for row in metrics["confusion_matrix"]]
    for key in ("per_source", "best_params", "trials", "validation"):
        if metrics.get(key) is not None and not isinstance(metrics[key], dict):
            raise ValueError(f"metrics.json field {key} is not an object{fix}")
    for source, block in (metrics.get("per_source") or {}).items():
        if not isinstance(block, dict):
            raise ValueError(f"metrics.json per_source[{source!r}] is not an object{fix}")
    sources = metrics.get("train_sources")
    if sources is not None and not (isinstance(sources, list) and all(isinstance(s, str) for s in sources)):
        raise ValueError(f"metrics.json train_sources is not a list of names{fix}")
    return metrics


def _is_confusion_matrix(value: Any) -> bool:
    # Counts written as floats (3.0) are still counts; anything fractional or negative is not.
    return (isinstance(value, list) and len(value) == 2
            and all(isinstance(row, list) and len(row) == 2 for row in value)
            and all(is_number(c) and c >= 0 and float(c).is_integer() for row in value for c in row))


def _read_optional(run: RunResult, name: str, reader) -> Any:
    path = run.folder / name
    if not path.is_file():
        return None
    try:
        return reader(path)
    except ValueError as err:
        run.notes.append(f"{name} was ignored: {err}")
        return None


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
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
    if frame["number"].isna().any():
        raise ValueError("number must be an integer on every row")
    if "intermediate" in frame.columns:
        frame["intermediate"] = [_parse_series(v) for v in frame["intermediate"]]
    return frame.sort_values("number").reset_index(drop=True)


def _parse_series(text: Any) -> list[float]:
    # A bad cell costs one trial's curve, not the whole optimisation history.
    try:
        values = json.loads(text) if isinstance(text, str) else []
    except json.JSONDecodeError:
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
    data = _read_json(path)
    if not isinstance(data, dict) or not all(is_number(v) for v in data.values()):
        raise ValueError("expected an object {parameter: importance number}")
    return {str(k): float(v) for k, v in data.items()}


def _read_history(path: Path) -> dict[str, list[float]]:
    data = _read_json(path)
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ValueError("expected an object {curve name: [one number per epoch]}")
    curves = {str(k): [float(x) if is_number(x) else math.nan for x in v] for k, v in data.items()}
    return {k: v for k, v in curves.items() if v}
