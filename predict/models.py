"""Find the trained runs under runs/, pick the best (or a named) one, and load its model with its threshold."""
from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

# Key endings where a smaller value is the better model (EER, losses, times, sizes); everything else ranks
# highest-first. The leaderboard orders its rows by the same rule, so "best" means the same on the page and here.
LOWER_IS_BETTER_SUFFIXES = ("eer", "loss", "wall_time_s", "params_total", "params_trainable", "seconds", "_s")
DEFAULT_RANK_BY = "roc_auc"
NO_MODEL_HINT = "train one first: `make data` then `make search MODEL=cnn`"


class ModelChoiceError(Exception):
    """No usable run could be chosen (none trained, unknown name, or a broken run folder); the message says the fix."""


@dataclass(frozen=True)
class Run:
    """One trained model as `search` left it in runs/<name>/: where it is, its decision threshold and input size."""

    name: str
    path: Path
    threshold: float
    image_size: int
    metrics: dict = field(repr=False, compare=False)

    @property
    def model_path(self) -> Path:
        return self.path / "model.keras"

    def rank_value(self, rank_by: str) -> float | None:
        """The number at `rank_by` in metrics.json, dots reaching nested keys (`validation.roc_auc`), else None."""
        return metric_value(self.metrics, rank_by)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def metric_value(metrics: dict, key: str) -> float | None:
    """The finite number at `key` in a metrics dict, following dots into nested dicts, or None.

    A key that itself contains dots (a source named `faces.v2`) wins over descending, at every level.
    """
    if key in metrics:
        return float(metrics[key]) if _is_number(metrics[key]) else None
    parts = key.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head, rest = ".".join(parts[:cut]), ".".join(parts[cut:])
        if isinstance(metrics.get(head), dict):
            return metric_value(metrics[head], rest)
    return None


def lower_is_better(rank_by: str) -> bool:
    """Whether a smaller value of `rank_by` is better (EER, losses, times, sizes), judged by its last part."""
    return rank_by.split(".")[-1].endswith(LOWER_IS_BETTER_SUFFIXES)


def read_run(path: str | Path) -> Run:
    """Read runs/<name>/metrics.json into a `Run`.

    Raises ModelChoiceError when the folder lacks model.keras or metrics.json, or metrics.json has no usable
    `threshold` / `image_size` (predict never falls back to a blind 0.5).
    """
    path = Path(path)
    metrics_path = path / "metrics.json"
    if not (path / "model.keras").is_file() or not metrics_path.is_file():
        raise ModelChoiceError(f"run folder {path} needs both model.keras and metrics.json; re-run `make search "
                               f"MODEL={path.name}`")
    try:
        metrics = json.loads(metrics_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelChoiceError(f"{metrics_path} is not readable JSON ({exc}); re-run `make search "
                               f"MODEL={path.name}`") from exc
    threshold, image_size = metrics.get("threshold"), metrics.get("image_size")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
        raise ModelChoiceError(f"{metrics_path} has no decision threshold in [0, 1] (got {threshold!r}); re-run "
                               f"`make search MODEL={path.name}` so it is chosen on validation")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size <= 0:
        raise ModelChoiceError(f"{metrics_path} has no positive integer image_size (got {image_size!r}); re-run "
                               f"`make search MODEL={path.name}`")
    return Run(name=path.name, path=path, threshold=float(threshold), image_size=image_size, metrics=metrics)


def list_runs(runs_dir: str | Path = "runs") -> list[Run]:
    """Every complete run under `runs_dir` (a folder holding model.keras and metrics.json), sorted by name.

    Half-written folders (a search still running) are left out rather than raising.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    runs = []
    for child in sorted(runs_dir.iterdir()):
        if child.is_dir() and (child / "model.keras").is_file() and (child / "metrics.json").is_file():
            try:
                runs.append(read_run(child))
            except ModelChoiceError:
                continue
    return runs


def rank_runs(runs: list[Run], rank_by: str = DEFAULT_RANK_BY) -> list[Run]:
    """Order runs best first by `rank_by` (lower first for metrics like `eer`); runs lacking it go last, by name."""
    lower = lower_is_better(rank_by)

    def key(run: Run):
        value = run.rank_value(rank_by)
        if value is None:
            return (1, 0.0, run.name)
        return (0, value if lower else -value, run.name)

    return sorted(runs, key=key)


def choose_run(runs_dir: str | Path = "runs", model: str | None = None, rank_by: str = DEFAULT_RANK_BY) -> Run:
    """The run named `model`, or the best run by `rank_by` when `model` is None.

    Raises ModelChoiceError naming the command that trains a model when there is none, and listing the available
    runs when `model` is unknown.

    >>> choose_run("runs").name  # doctest: +SKIP
    'mobilenet_v2_frozen'
    """
    runs = list_runs(runs_dir)
    if model is not None:
        by_name = {run.name: run for run in runs}
        if model in by_name:
            return by_name[model]
        if (Path(runs_dir) / model).is_dir():
            # A folder exists but is incomplete or broken: read it again to surface the precise reason.
            return read_run(Path(runs_dir) / model)
        if not runs:
            raise ModelChoiceError(f"no trained model named {model!r} (no runs in {runs_dir}/); {NO_MODEL_HINT}")
        close = difflib.get_close_matches(model, list(by_name), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ModelChoiceError(f"unknown model {model!r} in {runs_dir}/; {hint}available runs: "
                               f"{', '.join(by_name)}")
    if not runs:
        raise ModelChoiceError(f"no trained model found in {runs_dir}/; {NO_MODEL_HINT}")
    ranked = rank_runs(runs, rank_by)
    if ranked[0].rank_value(rank_by) is None:
        numeric = sorted({key for run in runs for key, value in run.metrics.items() if _is_number(value)})
        raise ModelChoiceError(f"no run in {runs_dir}/ has a number at --rank-by {rank_by!r}; choose one of: "
                               f"{', '.join(numeric)} (or a dotted path such as validation.roc_auc), or pick a run "
                               f"with --model")
    return ranked[0]


def load_model(run: Run):
    """Load the run's model.keras (raw RGB in, P(fake) out) without its training configuration.

    `zoo` is imported first when it can be, so the custom layers it registers (its preprocessing) resolve.
    Raises ModelChoiceError when the file cannot be loaded.
    """
    import keras

    zoo_error = None
    try:
        import zoo  # noqa: F401  (registers the custom layers saved models refer to)
    except Exception as exc:  # the zoo package is optional for models made only of built-in layers
        zoo_error = exc
    try:
        return keras.saving.load_model(run.model_path, compile=False)
    except Exception as exc:
        extra = f" (importing zoo also failed: {zoo_error})" if zoo_error else ""
        raise ModelChoiceError(f"cannot load {run.model_path}: {exc}{extra}; re-run `make search "
                               f"MODEL={run.name}`") from exc
