"""Find the trained runs under runs/, pick the best (or a named) one, and load its model with its threshold."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from pathlib import Path

from deepfake_zoo.runfiles import (CROSS_MEAN_KEY, DEFAULT_RANK_BY, RunFileError, add_cross_mean, is_number,
                                   lookup_number, numeric_keys, rank_key, read_metrics, readable_text,
                                   resolve_rank_by, run_folders)

# Which metric is better smaller, how a dotted key reaches a nested number, how ties break and the default ranking
# are deepfake_zoo.runfiles' rules, the ones the leaderboard ranks by, so "best" means the same on the page and here.
NO_MODEL_HINT = "train one first: `make data` then `make search MODEL=cnn`"


class ModelChoiceError(LookupError):
    """No usable run could be chosen (none trained, unknown name, or a broken run folder); the message says the fix."""


@dataclass(frozen=True)
class Run:
    """One trained model as `search` left it in runs/<name>/: where it is, its decision threshold and input size."""

    name: str
    path: Path
    threshold: float
    image_size: int
    metrics: dict = field(repr=False, compare=False)
    # Temperature fitted on validation (metrics.json `calibration`); when set, P(fake) is calibrated with it and
    # `threshold` is the one re-chosen on the calibrated validation scores.
    temperature: float | None = None
    # The run's val/test scores averaged each image with its mirror (search --tta-flip): its threshold and
    # temperature were chosen on such scores, so every later scoring of this run does the same.
    tta_flip: bool = False
    # The metric `choose_run` ranked by (the default rule resolved), for reports to name what chose this run.
    ranked_by: str = DEFAULT_RANK_BY

    @property
    def model_path(self) -> Path:
        return self.path / "model.keras"

    def rank_value(self, rank_by: str) -> float | None:
        """The number at `rank_by` in metrics.json, dots reaching nested keys (`validation.roc_auc`), else None."""
        return lookup_number(self.metrics, rank_by)


def read_run(path: str | Path) -> Run:
    """Read runs/<name>/metrics.json into a `Run`.

    Raises ModelChoiceError when the folder lacks model.keras or metrics.json, metrics.json is unusable (the
    shared checks of `deepfake_zoo.runfiles.read_metrics`), or it has no usable `threshold` / `image_size`
    (predict never falls back to a blind 0.5).
    """
    path = Path(path)
    metrics_path = path / "metrics.json"
    if not (path / "model.keras").is_file() or not metrics_path.is_file():
        raise ModelChoiceError(f"run folder {readable_text(str(path))} needs both model.keras and metrics.json; "
                               f"re-run `make search MODEL={readable_text(path.name)}`")
    try:
        metrics = read_metrics(path)
    except RunFileError as exc:
        raise ModelChoiceError(f"run folder {readable_text(str(path))}: {exc}") from exc
    shown = readable_text(str(metrics_path))
    threshold, image_size = metrics.get("threshold"), metrics.get("image_size")
    if not is_number(threshold) or not 0.0 <= threshold <= 1.0:
        raise ModelChoiceError(f"{shown} has no decision threshold in [0, 1] (got {threshold!r}); re-run "
                               f"`make search MODEL={readable_text(path.name)}` so it is chosen on validation")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size <= 0:
        raise ModelChoiceError(f"{shown} has no positive integer image_size (got {image_size!r}); re-run "
                               f"`make search MODEL={readable_text(path.name)}`")
    from deepfake_zoo.search.calibration import calibration_of

    temperature, calibrated_threshold = calibration_of(metrics)
    if temperature is not None:
        threshold = calibrated_threshold
    return Run(name=path.name, path=path, threshold=float(threshold), image_size=image_size, metrics=metrics,
               temperature=temperature, tta_flip=metrics.get("tta_flip") is True)


def list_runs(runs_dir: str | Path = "runs") -> list[Run]:
    """Every complete run under `runs_dir` (a folder holding model.keras and metrics.json), sorted by name.

    Half-written folders (a search still running) and broken ones are left out rather than raising; folders
    whose names start with "." or "_" are never runs (`deepfake_zoo.runfiles.run_folders`).
    """
    if not Path(runs_dir).is_dir():
        return []
    runs = []
    for child in run_folders(runs_dir):
        if (child / "model.keras").is_file() and (child / "metrics.json").is_file():
            try:
                runs.append(read_run(child))
            except ModelChoiceError:
                continue
    return runs


def rank_runs(runs: list[Run], rank_by: str = DEFAULT_RANK_BY) -> list[Run]:
    """Order runs best first by `rank_by` (lower first for metrics like `eer`); runs lacking it go last; ties by
    folder name, exactly as the leaderboard orders its rows."""
    if rank_by == CROSS_MEAN_KEY:
        # Derived from runs/<model>/external/ and the holdout block, by the same rule as the leaderboard's.
        for run in runs:
            add_cross_mean(run.path, run.metrics)
    return sorted(runs, key=lambda run: rank_key(run.metrics, rank_by, run.path.name))


def choose_run(runs_dir: str | Path = "runs", model: str | None = None, rank_by: str | None = None) -> Run:
    """The run named `model`, or the best run by `rank_by` when `model` is None (None: the default rule,
    `deepfake_zoo.runfiles.resolve_rank_by`). The returned run's `ranked_by` names the metric used.

    Raises ModelChoiceError naming the command that trains a model when there is none, and listing the available
    runs when `model` is unknown.

    >>> choose_run("runs").name  # doctest: +SKIP
    'mobilenet_v2_frozen'
    """
    runs = list_runs(runs_dir)
    rank_by = resolve_rank_by(rank_by, (run.metrics for run in runs))
    if model is not None:
        by_name = {run.name: run for run in runs}
        if model in by_name:
            return replace(by_name[model], ranked_by=rank_by)
        if (Path(runs_dir) / model).is_dir():
            # A folder exists but is incomplete or broken: read it again to surface the precise reason.
            return replace(read_run(Path(runs_dir) / model), ranked_by=rank_by)
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
        numeric = numeric_keys(run.metrics for run in runs)
        raise ModelChoiceError(f"no run in {runs_dir}/ has a number at --rank-by {rank_by!r}; choose one of: "
                               f"{', '.join(numeric)} (or a dotted path such as validation.roc_auc), or pick a run "
                               f"with --model")
    return replace(ranked[0], ranked_by=rank_by)


def load_model(run: Run):
    """Load the run's model.keras (raw RGB in, P(fake) out) without its training configuration.

    The zoo is imported first when it can be, so the custom layers it registers (its preprocessing) resolve.
    Raises ModelChoiceError when the file cannot be loaded.
    """
    import keras

    zoo_error = None
    try:
        import deepfake_zoo.zoo  # noqa: F401  (registers the custom layers saved models refer to)
    except Exception as exc:  # the zoo package is optional for models made only of built-in layers
        zoo_error = exc
    try:
        return keras.saving.load_model(run.model_path, compile=False)
    except Exception as exc:
        extra = f" (importing zoo also failed: {zoo_error})" if zoo_error else ""
        raise ModelChoiceError(f"cannot load {run.model_path}: {exc}{extra}; re-run `make search "
                               f"MODEL={run.name}`") from exc
