"""Optuna studies over a zoo entry's search space on the shared split; the best configuration is scored on test once.

>>> from search.config import make_config
>>> from search.study import run_search
>>> run_search(make_config({"model": "cnn", "trials": 3, "epochs": 2}))  # doctest: +SKIP
"""
from __future__ import annotations

import glob
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import optuna
import pandas as pd
import tensorflow as tf
from optuna.trial import TrialState
from tqdm.auto import tqdm

from deepfake_zoo import zoo
from deepfake_zoo.datasets.manifest import load_manifest, manifest_sha256
from deepfake_zoo.atomic import atomic_path
from deepfake_zoo.search.config import SearchConfig
from deepfake_zoo.search.estimate import estimate_seconds, format_duration
from deepfake_zoo.search.results import TrialRecord, write_results
from deepfake_zoo.search.storage import open_storage
from deepfake_zoo.search.space import suggest
from deepfake_zoo.search.training import Task, first_images, make_task, measure_images_per_second

Log = Callable[[str], None]
# Our own one-line-per-trial log replaces Optuna's INFO lines; heartbeats are experimental but exactly what we need.
optuna.logging.set_verbosity(optuna.logging.WARNING)
# Each trial builds a fresh model, so TensorFlow's "retracing" notice fires by design and says nothing useful.
tf.get_logger().setLevel("ERROR")
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
# Trial attributes that must match for a rerun to join an existing study instead of mixing incomparable trials.
STUDY_KEYS = ("image_size", "weights", "epochs", "manifest_sha256", "limit", "train_sources")
SETTINGS_ATTR = "settings"


class StudyMismatchError(RuntimeError):
    """An existing study was run with other settings; joining it would mix incomparable trials."""


def select_rows(frame: pd.DataFrame, config: SearchConfig) -> pd.DataFrame:
    """Apply `train_sources` (train and val only; test keeps every source) and `limit` (per split, seeded)."""
    if config.train_sources:
        known = set(frame["source"])
        missing = sorted(set(config.train_sources) - known)
        if missing:
            raise ValueError(f"train_sources {missing} not in the manifest; sources present: {sorted(known)}")
        keep = frame["split"].eq("test") | frame["source"].isin(config.train_sources)
        frame = frame[keep]
    if config.limit:
        parts = []
        for _, part in frame.groupby("split", sort=True):
            if len(part) > config.limit:
                # Stratified by source and label so a small run still sees every kind of image.
                part = part.groupby(["source", "label"]).sample(frac=config.limit / len(part),
                                                                 random_state=config.seed)
            parts.append(part)
        frame = pd.concat(parts)
    return frame.sort_values(["split", "path"]).reset_index(drop=True)


def make_pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 1))
    return optuna.pruners.NopPruner()


def _open_study(name: str, config: SearchConfig, attrs: dict, pruner) -> optuna.Study:
    storage = open_storage(config.storage_url(), config.heartbeat)
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=config.seed), pruner=pruner,
                                load_if_exists=True)
    settings = {k: attrs[k] for k in STUDY_KEYS}
    if SETTINGS_ATTR not in study.user_attrs:
        # One attribute holding every setting, written in one call: a worker starting at the same moment sees all of
        # them or none, never half (one attribute per key let it read a half-written study as a mismatch).
        study.set_user_attr(SETTINGS_ATTR, settings)
    stored = study.user_attrs[SETTINGS_ATTR]
    diff = {k: (stored.get(k), settings[k]) for k in STUDY_KEYS if stored.get(k) != settings[k]}
    if diff:
        detail = ", ".join(f"{k}: stored {a!r} vs now {b!r}" for k, (a, b) in diff.items())
        raise StudyMismatchError(
            f"study {name!r} in {config.storage_url()} was run with other settings ({detail}); "
            f"pass --study NAME for a new study or delete it")
    return study


def _records(study: optuna.Study) -> list[TrialRecord]:
    return [TrialRecord(number=t.number, state=t.state.name, value=t.value,
                        duration_s=t.duration.total_seconds() if t.duration else None, params=dict(t.params),
                        intermediate=[t.intermediate_values[k] for k in sorted(t.intermediate_values)])
            for t in study.trials if t.state != TrialState.RUNNING and t.state != TrialState.WAITING]


def _importances(study: optuna.Study) -> dict:
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    if len(complete) < 2:
        return {}
    try:
        return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (RuntimeError, ValueError, ZeroDivisionError):
        return {}


def _checkpoint(run_dir: Path, number: int) -> Path:
    return run_dir / "checkpoints" / f"trial-{number}.keras"


def prepare(name: str, config: SearchConfig, log: Log, engine: str) -> tuple:
    """Everything a search of `name` needs before its first trial, whatever the engine: logs the estimate, then
    (unless a dry run) loads every cached feature view a trial may ask for.

    Returns (entry, task, run_dir); raises WeightsUnavailableError before any work when weights are missing.
    """
    entry = zoo.get_model(name)
    frame = select_rows(load_manifest(config.manifest), config)
    size = int(config.image_size or entry.input_size)
    weights = entry.resolve_weights(config.weights, size)
    run_dir = config.runs_dir / name
    zoo.reset_session(config.seed)
    task = make_task(entry, frame, size, weights, config)
    estimate = estimate_seconds(task, config)
    log(f"[{name}] {engine}: {len(task.frames['train'])} train / {len(task.frames['val'])} val / "
        f"{len(task.frames['test'])} test images at {size}px, weights={weights}, "
        f"{config.trials} trials x up to {config.epochs} epochs: estimated at most "
        f"{format_duration(estimate['total_s'])} ({estimate['detail']})")
    if not config.dry_run:
        start = time.perf_counter()
        loaded = task.preload()
        if loaded:
            log(f"[{name}] ready in {format_duration(time.perf_counter() - start)}: {loaded}")
    return entry, task, run_dir


def run_model_search(name: str, config: SearchConfig, log: Log = print,
                     pruner: optuna.pruners.BasePruner | None = None) -> dict | None:
    """Run (or resume) the study for one model and write runs/<name>/; returns its metrics (None for a dry run)."""
    started = time.perf_counter()
    entry, task, run_dir = prepare(name, config, log, "optuna")
    if config.dry_run:
        return None
    size, weights = task.image_size, task.weights

    attrs = {"image_size": size, "weights": weights, "epochs": config.epochs,
             "manifest_sha256": manifest_sha256(config.manifest), "limit": config.limit,
             "train_sources": sorted(config.train_sources) if config.train_sources else None}
    study = _open_study(config.study or name, config, attrs, pruner or make_pruner(config.pruner, config.epochs))
    done = sum(t.state in FINISHED for t in study.trials)
    if done:
        log(f"[{name}] resuming study {study.study_name!r}: {done} finished trial(s) kept")

    def objective(trial: optuna.Trial) -> float:
        hp = suggest(trial, entry.search_space)
        zoo.reset_session(config.seed + trial.number)  # isolated: the last trial's graphs freed, seeds set afresh

        def report(epoch: int, value: float) -> None:
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch} with val_roc_auc={value:.4f}")

        try:
            fitted = task.fit(hp, config.epochs, config.patience, report)
        except optuna.TrialPruned:
            raise
        except Exception as err:
            # Kept on the trial so a study with no complete trial can say why instead of failing silently.
            trial.set_user_attr("error", f"{type(err).__name__}: {err}")
            raise
        trial.set_user_attr("best_epoch", fitted.best_epoch)
        trial.set_user_attr("history", fitted.history)
        checkpoint = _checkpoint(run_dir, trial.number)
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        fitted.model.save(checkpoint)
        return fitted.best_value

    bar = tqdm(total=config.trials, initial=min(done, config.trials), desc=name, unit="trial", file=sys.stderr,
               disable=None)
    failures = []

    def on_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        seconds = trial.duration.total_seconds() if trial.duration else float("nan")
        value = "-" if trial.value is None else f"{trial.value:.4f}"
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items())
        tqdm.write(f"[{name}] trial {trial.number:3d} {trial.state.name.lower():8s} val_roc_auc={value} "
                   f"{seconds:6.1f}s  {params}", file=sys.stdout)
        bar.update(1 if trial.state in FINISHED else 0)
        failures.append(trial.state == TrialState.FAIL)
        # A configuration error fails every trial the same way; stop rather than loop on it forever.
        if len(failures) >= 3 and all(failures[-3:]):
            study.stop()

    if done < config.trials:
        # n_trials bounds this worker; MaxTrialsCallback bounds the study when several workers share it.
        study.optimize(objective, n_trials=config.trials - done, timeout=config.timeout, gc_after_trial=True,
                       catch=(Exception,),
                       callbacks=[optuna.study.MaxTrialsCallback(config.trials, states=FINISHED), on_trial])
    bar.close()

    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    if not complete:
        failed = [t for t in study.trials if t.state == TrialState.FAIL]
        reason = failed[-1].user_attrs.get("error", "see the log") if failed else "every trial was pruned"
        raise RuntimeError(f"study {study.study_name!r} has no complete trial ({reason}); nothing to evaluate")
    best = study.best_trial
    return finalise(entry, task, BestTrial(best.number, float(best.value), dict(best.params),
                                           _checkpoint(run_dir, best.number), best.user_attrs.get("history", {})),
                    records=_records(study), importances=_importances(study), run_dir=run_dir, config=config,
                    started=started, engine="optuna", study_name=study.study_name, log=log)


@dataclass
class BestTrial:
    """What finalising needs from an engine's best trial, whatever the engine."""

    number: int
    value: float
    params: dict
    checkpoint: Path
    history: dict


def finalise(entry, task: Task, best: BestTrial, *, records: list[TrialRecord], importances: dict, run_dir: Path,
             config: SearchConfig, started: float, engine: str, study_name: str, log: Log = print) -> dict:
    """Take the best trial (its checkpoint, or a retrain with its parameters), score val and test once, save all."""
    hp = {**entry.default_hparams(), **best.params}
    zoo.reset_session(config.seed + best.number)
    if best.checkpoint.is_file():
        model, history = keras.saving.load_model(best.checkpoint), best.history
    else:
        log(f"[{entry.name}] best trial {best.number} ran on another worker: retraining its configuration")
        fitted = task.fit(hp, config.epochs, config.patience)
        model, history = fitted.model, fitted.history
    val_scores = task.predict(model, "val")
    test_scores = task.predict(model, "test")
    exported = task.export(model)
    model_path = run_dir / "model.keras"
    with atomic_path(model_path) as tmp:
        exported.save(tmp)
    _check_export(model_path, task, test_scores)
    throughput = measure_images_per_second(exported, task.frames["test"], task.image_size)
    for stale in glob.glob(str(run_dir / "checkpoints" / "*.keras")):
        if Path(stale) != best.checkpoint:
            Path(stale).unlink(missing_ok=True)

    info = {
        "model": entry.name, "family": entry.family, "frozen": bool(entry.frozen), "image_size": task.image_size,
        "weights": task.weights, "params_total": int(exported.count_params()),
        "params_trainable": int(sum(np.prod(w.shape) for w in exported.trainable_weights)),
        "objective": "val_roc_auc", "best_value": float(best.value), "best_trial": best.number,
        "best_params": best.params, "wall_time_s": time.perf_counter() - started,
        "trials_time_s": sum(r.duration_s or 0.0 for r in records),
        "inference_images_per_s": throughput, "engine": engine, "study_name": study_name,
        "seed": config.seed, "epochs": config.epochs, "limit": config.limit,
        "train_sources": sorted(task.frames["train"]["source"].unique().tolist()),
        "manifest_sha256": manifest_sha256(config.manifest),
        "data_is_synthetic": bool(task.frames["train"]["source"].eq("demo").all()),
    }
    if hasattr(task, "cache"):
        info["feature_cache"] = {"hits": task.cache.hits, "misses": task.cache.misses}
    metrics = write_results(run_dir, info=info, val_frame=task.frames["val"], val_scores=val_scores,
                            test_frame=task.frames["test"], test_scores=test_scores, trials=records,
                            importances=importances, history=history)
    log(f"[{entry.name}] test accuracy={metrics['accuracy']:.4f} roc_auc={_fmt(metrics['roc_auc'])} "
        f"eer={_fmt(metrics['eer'])} (threshold {metrics['threshold']:.3f} from validation); "
        f"trials {metrics['trials']}; results in {run_dir}/")
    return metrics


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _check_export(model_path: Path, task: Task, expected: np.ndarray, n: int = 8) -> None:
    """The saved model, fed raw images, must reproduce the scores the search computed: the preprocessing is inside."""
    reloaded = keras.saving.load_model(model_path)
    images = first_images(task.frames["test"], task.image_size, n)
    got = np.asarray(reloaded.predict(images, verbose=0)).reshape(-1)
    if not np.allclose(got, expected[: len(got)], atol=2e-3):
        raise RuntimeError(f"saved model {model_path} disagrees with the search's own scores "
                           f"(max diff {np.max(np.abs(got - expected[:len(got)])):.4f}); refusing to publish it")


def run_search(config: SearchConfig, log: Log = print, pruner=None) -> dict[str, dict | None]:
    """Run the study of every model `config.model` resolves to (a name, a family, a glob or `all`)."""
    names = zoo.resolve_models(config.model)
    results: dict[str, dict | None] = {}
    for name in names:
        try:
            results[name] = run_model_search(name, config, log, pruner)
        except zoo.WeightsUnavailableError as err:
            if len(names) == 1 or not config.keep_going:
                raise
            log(f"[{name}] skipped: {err}")
    _summary(results, log)
    return results


def _summary(results: dict[str, dict | None], log: Log) -> None:
    done = {k: v for k, v in results.items() if v}
    if not done:
        return
    log("\nmodel                          accuracy  roc_auc   eer     trials (complete/pruned/failed)")
    for name, m in sorted(done.items(), key=lambda kv: -(kv[1]["roc_auc"] or 0)):
        t = m["trials"]
        log(f"{name:30s} {m['accuracy']:.4f}    {_fmt(m['roc_auc'])}    {_fmt(m['eer'])}  "
            f"{t['complete']}/{t['pruned']}/{t['failed']}")
