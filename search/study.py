"""Optuna studies over a zoo entry's search space on the shared split; the best configuration is scored on test once.

One model's search is a `ModelSearch` (its entry, task and folders, and `finalise`, which publishes runs/<model>/);
an engine runs the trials: `OptunaSearch` here, `kerastuner_engine` for Keras Tuner, both through `search_models`.

>>> from deepfake_zoo.search.config import make_config
>>> from deepfake_zoo.search.study import run_search
>>> run_search(make_config({"model": "cnn", "trials": 3, "epochs": 2}))  # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import os
import re
import socket
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import keras
import numpy as np
import optuna
import pandas as pd
import tensorflow as tf
from optuna.trial import TrialState
from tqdm.auto import tqdm

from deepfake_zoo import zoo
from deepfake_zoo.datasets.audit import audit_holdout
from deepfake_zoo.datasets.self_blend import original_source
from deepfake_zoo.datasets.manifest import load_manifest, manifest_sha256
from deepfake_zoo.datasets.pipeline import make_dataset
from deepfake_zoo.runfiles import DEFAULT_RANK_BY, lookup_number, rank_key
from deepfake_zoo.search import rundir
from deepfake_zoo.search.config import SearchConfig
from deepfake_zoo.search.estimate import estimate_seconds, format_duration
from deepfake_zoo.search.results import TrialRecord, write_results
from deepfake_zoo.search.storage import open_storage, safe_url
from deepfake_zoo.search.space import fixed_space, suggest
from deepfake_zoo.search.training import Task, TrunkTask, first_images, make_task, measure_images_per_second

Log = Callable[[str], None]
# Our own one-line-per-trial log replaces Optuna's INFO lines; heartbeats are experimental but exactly what we need.
optuna.logging.set_verbosity(optuna.logging.WARNING)
# Each trial builds a fresh model, so TensorFlow's "retracing" notice fires by design and says nothing useful.
tf.get_logger().setLevel("ERROR")
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
# Trial attributes that must match for a rerun to join an existing study instead of mixing incomparable trials.
STUDY_KEYS = ("image_size", "weights", "epochs", "manifest_sha256", "limit", "train_sources",
              "holdout_sources", "trunk_cache", "mixed_precision", "fix")
# What a study made before a key existed ran with: its default, so an older study is still joined.
STUDY_DEFAULTS = {"trunk_cache": False, "mixed_precision": False, "fix": None}
SETTINGS_ATTR = "settings"
WORKER_ATTR = "worker"
SAMPLER_SEED_ATTR = "sampler_seed"


class StudyMismatchError(RuntimeError):
    """An existing study was run with other settings; joining it would mix incomparable trials."""


class SearchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a search; the message says what was kept and how to resume."""


def run_name(model: str, holdout_sources: list[str] | None, suffix: str | None = None) -> str:
    """The results folder of a model: its name in-domain, `<model>-holdout-<a>+<b>` (sorted) with held-out sources,
    so a cross-source run never replaces the in-domain one; then `-<suffix>` (`-224px` when sizes are compared).

    >>> run_name("cnn", ["b", "a"])
    'cnn-holdout-a+b'
    >>> run_name("cnn", None, "224px")
    'cnn-224px'
    """
    tail = f"-{suffix}" if suffix else ""
    if not holdout_sources:
        return model + tail
    # Folder-safe: a source name is a folder name of the data, but anything outside [A-Za-z0-9._-] becomes "_".
    safe = [re.sub(r"[^A-Za-z0-9._-]", "_", s) for s in sorted(holdout_sources)]
    return f"{model}-holdout-{'+'.join(safe)}{tail}"


def check_holdout(frame: pd.DataFrame, holdout_sources: list[str] | None) -> None:
    """Raise, naming the sources present, when a held-out source is not in the manifest or none would be left."""
    if not holdout_sources:
        return
    known = sorted(set(original_source(frame["source"])))
    missing = sorted(set(holdout_sources) - set(known))
    if missing:
        raise ValueError(f"holdout_sources {missing} not in the manifest; sources present: {known}")
    if set(known) <= set(holdout_sources):
        raise ValueError(f"holdout_sources {sorted(holdout_sources)} hold out every source of the manifest; leave "
                         f"at least one of {known} to train on")


def holdout_rows(frame: pd.DataFrame, config: SearchConfig) -> pd.DataFrame:
    """Every row (all splits: none was ever trained on) of the held-out sources, in a fixed order."""
    check_holdout(frame, config.holdout_sources)
    held = frame[frame["source"].isin(config.holdout_sources or [])]
    return held.sort_values(["source", "split", "path"]).reset_index(drop=True)


def select_rows(frame: pd.DataFrame, config: SearchConfig) -> pd.DataFrame:
    """Apply `holdout_sources` (gone from every split), `train_sources` (train and val only; test keeps every other
    source) and `limit` (per split, seeded)."""
    if config.holdout_sources:
        check_holdout(frame, config.holdout_sources)
        # Self-blended fakes made from a held-out source's faces (`<source>+sbi`) are that source's images too.
        held = original_source(frame["source"]).isin(config.holdout_sources)
        # A byte-identical copy of a held-out image under another source would smuggle it into training: drop it.
        copies = frame["sha256"].isin(set(frame.loc[held, "sha256"])) | frame["group"].isin(set(frame.loc[held, "group"]))
        frame = frame[~held & ~copies]
    if config.train_sources:
        known = set(original_source(frame["source"]))
        missing = sorted(set(config.train_sources) - known)
        if missing:
            raise ValueError(f"train_sources {missing} not in the manifest; sources present: {sorted(known)}")
        keep = frame["split"].eq("test") | original_source(frame["source"]).isin(config.train_sources)
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


def trial_seed(seed: int, number: int) -> int:
    """The sampler seed of trial `number` in a study seeded `seed`: distinct per trial, the same on every rerun."""
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


class TrialSeededSampler(optuna.samplers.BaseSampler):
    """TPE reseeded for every trial from (study seed, trial number).

    One TPESampler(seed) restarts its random sequence in every process: a resumed search re-proposed the trials it
    had already run, and workers started with one seed proposed the same points. Trial numbers are unique in a study
    whichever worker takes them, so seeding by number gives each resume and each worker new points, while a study
    run again from scratch with its seed proposes the same ones.
    """

    def __init__(self, seed: int, make: Callable[[int], optuna.samplers.BaseSampler] | None = None):
        self.seed = seed
        self._make = make or (lambda s: optuna.samplers.TPESampler(seed=s))
        self._inner: tuple[int, optuna.samplers.BaseSampler] | None = None

    def _for(self, trial) -> optuna.samplers.BaseSampler:
        if self._inner is None or self._inner[0] != trial.number:
            self._inner = (trial.number, self._make(trial_seed(self.seed, trial.number)))
        return self._inner[1]

    def infer_relative_search_space(self, study, trial):
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study, trial):
        self._for(trial).before_trial(study, trial)

    def after_trial(self, study, trial, state, values):
        self._for(trial).after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._inner = None


def _process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, Linux), so a recycled pid is not taken for the worker."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def this_worker() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _process_start(os.getpid())}


def _is_dead(worker: dict) -> bool:
    """True only when the worker ran on this machine and its process is gone; other hosts are the heartbeat's job."""
    if not isinstance(worker, dict) or worker.get("host") != socket.gethostname():
        return False
    pid = worker.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return worker.get("start") is not None and _process_start(pid) != worker.get("start")


def fail_dead_trials(study: optuna.Study) -> int:
    """Mark FAIL the RUNNING trials whose worker on this machine was killed (SIGKILL leaves them RUNNING; Optuna's
    heartbeat would fail them only after its grace period); returns how many."""
    failed = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get(WORKER_ATTR)
        if _is_dead(worker):
            study._storage.set_trial_user_attr(trial._trial_id, "error",
                                               f"worker pid {worker['pid']} died mid-trial")
            study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
            failed += 1
    return failed


@dataclass
class BestTrial:
    """What finalising needs from an engine's best trial, whatever the engine."""

    number: int
    value: float
    params: dict
    checkpoint: Path
    history: dict


class ModelSearch:
    """One model's search, whatever the engine: its zoo entry, its task on the selected rows, and its folders.

    `run_dir` (runs/<model>/) holds the published result only; `work_dir` (runs/_studies/<model>/<study>/) holds
    this study's checkpoints, so two studies of one model never touch each other's files.
    """

    def __init__(self, name: str, config: SearchConfig, log: Log = print, engine: str = "optuna"):
        self.name, self.config, self.log, self.engine = name, config, log, engine
        self.entry = zoo.get_model(name)
        # The folder (and default study) name: the model's, or `<model>-holdout-<sources>` for a cross-source run.
        self.run_name = run_name(name, config.holdout_sources, config.run_suffix)
        self.study_name = config.study or self.run_name
        self.run_dir = config.runs_dir / self.run_name
        self.work_dir = rundir.study_dir(config.runs_dir, self.run_name, self.study_name)
        self.image_size = int(config.image_size or self.entry.input_size)
        # Resolved now, so missing weights raise WeightsUnavailableError before any work.
        self.weights = self.entry.resolve_weights(config.weights, self.image_size)
        self.task: Task | None = None
        # What a trial samples (set by prepare): the task's search space with `fix`'s parameters pinned.
        self.space: dict = {}
        self.holdout: pd.DataFrame | None = None
        self.started = time.perf_counter()
        self.mixed_precision = False

    @property
    def settings(self) -> dict:
        """The settings a rerun must share to join this study (see STUDY_KEYS)."""
        config = self.config
        return {"image_size": self.image_size, "weights": self.weights, "epochs": config.epochs,
                "manifest_sha256": manifest_sha256(config.manifest), "limit": config.limit,
                "train_sources": sorted(config.train_sources) if config.train_sources else None,
                "holdout_sources": sorted(config.holdout_sources) if config.holdout_sources else None,
                "trunk_cache": bool(config.trunk_cache), "mixed_precision": bool(config.mixed_precision),
                "fix": dict(sorted(config.fix.items())) if config.fix else None}

    def checkpoint(self, key: str) -> Path:
        return self.work_dir / "checkpoints" / f"{key}.keras"

    def check_writable(self) -> None:
        """Fail in one line, before the first trial, when a folder this search writes to is not writable."""
        folders = [self.config.runs_dir, self.work_dir / "checkpoints"]
        if self.run_dir.exists():
            folders.append(self.run_dir)
        rundir.check_writable(*folders)

    @contextlib.contextmanager
    def numerics(self) -> Iterator[None]:
        """Mixed precision for the length of this search when asked for and a GPU is present; float32 after.

        The switches that cannot apply here (mixed precision without a GPU, XLA for a head on cached features) are
        said once in the log and recorded as off in metrics.json, so a figure never claims a speed-up it did not use.
        """
        wanted = self.config.mixed_precision
        self.mixed_precision = wanted and bool(tf.config.list_physical_devices("GPU"))
        if wanted and not self.mixed_precision:
            self.log(f"[{self.name}] mixed_precision ignored: no GPU here, and float16 on a CPU is slower, "
                     "not faster; training in float32")
        if self.config.xla and self.entry.frozen:
            self.log(f"[{self.name}] xla ignored: a frozen backbone's head trains on cached features in a loop XLA "
                     "cannot compile; it is already the fast path")
        previous = keras.mixed_precision.global_policy().name
        if self.mixed_precision:
            keras.mixed_precision.set_global_policy("mixed_float16")
        try:
            yield
        finally:
            keras.mixed_precision.set_global_policy(previous)

    def prepare(self, label: str | None = None) -> "ModelSearch":
        """Log the estimate (under `label`, default the engine's name), then (unless a dry run) load every cached
        feature view a trial may ask for."""
        config = self.config
        manifest = load_manifest(config.manifest)
        frame = select_rows(manifest, config)
        if config.holdout_sources:
            self.holdout = holdout_rows(manifest, config)
            # The protocol's promise, checked on the rows actually used, not on the intent: nothing held out trains.
            audit_holdout(frame[frame["split"].isin(("train", "val"))], self.holdout)
        zoo.reset_session(config.seed)
        self.task = task = make_task(self.entry, frame, self.image_size, self.weights, config)
        # A --fix outside this model's space fails here, before any cache is built.
        self.space = fixed_space(task.search_space, config.fix)
        estimate = estimate_seconds(task, config)
        self.log(f"[{self.name}] {label or self.engine}: {len(task.frames['train'])} train / {len(task.frames['val'])} val / "
                 f"{len(task.frames['test'])} test images"
                 + (f" ({len(self.holdout)} held out: {', '.join(sorted(config.holdout_sources))})"
                    if self.holdout is not None else "") + f" at {self.image_size}px, weights={self.weights}, "
                 f"{config.trials} trials x up to {config.epochs} epochs: estimated at most "
                 f"{format_duration(estimate['total_s'])} ({estimate['detail']})")
        if not config.dry_run:
            start = time.perf_counter()
            loaded = task.preload()
            if loaded:
                self.log(f"[{self.name}] ready in {format_duration(time.perf_counter() - start)}: {loaded}")
        return self

    def finalise(self, best: BestTrial, records: list[TrialRecord], importances: dict) -> dict:
        """Take the best trial (its checkpoint, or a retrain with its parameters), score val and test once, and
        publish runs/<model>/ in one step (the previous result stays whole until the new one is complete)."""
        entry, task, config = self.entry, self.task, self.config
        hp = {**entry.default_hparams(), **best.params}
        zoo.reset_session(config.seed + best.number)
        if best.checkpoint.is_file():
            model, history = keras.saving.load_model(best.checkpoint), best.history
        else:
            self.log(f"[{entry.name}] best trial {best.number} ran on another worker: retraining its configuration")
            fitted = task.fit(hp, config.epochs, config.patience)
            model, history = fitted.model, fitted.history
        exported = task.export(model)

        def final(scores: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
            if not config.tta_flip:
                return scores
            # Mirrors come from the exported model on images: a cache holds no deterministic mirror of each image.
            return (scores + score_frame(exported, frame, task.image_size, config.batch_size, flip=True)) / 2

        plain_test_scores = task.predict(model, "test")
        val_scores = final(task.predict(model, "val"), task.frames["val"])
        test_scores = final(plain_test_scores, task.frames["test"])
        holdout = None
        if self.holdout is not None:
            # Scored once, after selection, by the exported model (raw images in), as any unseen folder would be.
            holdout = (self.holdout, final(score_frame(exported, self.holdout, task.image_size, config.batch_size),
                                           self.holdout))
        with rundir.publishing(config.runs_dir, self.run_name) as staging:
            model_path = staging / "model.keras"
            exported.save(model_path)
            _check_export(model_path, task, plain_test_scores)
            throughput = measure_images_per_second(exported, task.frames["test"], task.image_size)
            info = self._info(best, records, exported, throughput)
            metrics = write_results(staging, info=info, val_frame=task.frames["val"], val_scores=val_scores,
                                    test_frame=task.frames["test"], test_scores=test_scores, trials=records,
                                    importances=importances, history=history, holdout=holdout)
        for stale in (self.work_dir / "checkpoints").glob("*.keras"):
            if stale != best.checkpoint:
                stale.unlink(missing_ok=True)
        self.log(f"[{self.run_name}] test accuracy={metrics['accuracy']:.4f} roc_auc={_fmt(metrics['roc_auc'])} "
                 f"eer={_fmt(metrics['eer'])} (threshold {metrics['threshold']:.3f} from validation); "
                 f"trials {metrics['trials']}; results in {self.run_dir}/")
        for source, block in metrics.get("holdout", {}).items():
            self.log(f"[{self.run_name}] held-out {source}: roc_auc={_fmt(block['roc_auc'])} "
                     f"accuracy={block['accuracy']:.4f} on {block['n']} images (never trained or validated on)")
        self.after_publish(exported, metrics)
        return metrics

    def after_publish(self, exported: keras.Model, metrics: dict) -> None:
        """cost.json always, robustness.json when asked: extra files beside a complete result, each written whole."""
        from deepfake_zoo.search.calibration import calibration_of
        from deepfake_zoo.search.cost import write_cost

        config, task = self.config, self.task
        start = time.perf_counter()
        write_cost(self.run_dir, exported, task.image_size)
        self.log(f"[{self.run_name}] cost measured in {format_duration(time.perf_counter() - start)}: "
                 f"{self.run_dir / 'cost.json'}")
        wanted = config.robustness if config.robustness is not None else self.weights == "imagenet"
        if not wanted:
            return
        from deepfake_zoo.search.robustness import run_robustness

        temperature, threshold = calibration_of(metrics)
        if temperature is None:
            threshold = metrics["threshold"]
        start = time.perf_counter()
        report = run_robustness(self.run_dir, task.frames["test"], exported, task.image_size, threshold=threshold,
                                temperature=temperature, limit=config.robustness_limit, seed=config.seed,
                                batch_size=config.batch_size)
        self.log(f"[{self.run_name}] robustness on {report['n']} test images in "
                 f"{format_duration(time.perf_counter() - start)}: {self.run_dir / 'robustness.json'}")

    def _info(self, best: BestTrial, records: list[TrialRecord], exported: keras.Model, throughput: float) -> dict:
        entry, task, config = self.entry, self.task, self.config
        info = {
            "model": entry.name, "family": entry.family, "frozen": bool(entry.frozen), "image_size": task.image_size,
            "weights": task.weights, "params_total": int(exported.count_params()),
            "params_trainable": int(sum(np.prod(w.shape) for w in exported.trainable_weights)),
            "objective": "val_roc_auc", "best_value": float(best.value), "best_trial": best.number,
            "best_params": best.params, "wall_time_s": time.perf_counter() - self.started,
            "trials_time_s": sum(r.duration_s or 0.0 for r in records),
            "inference_images_per_s": throughput, "engine": self.engine, "study_name": self.study_name,
            "seed": config.seed, "epochs": config.epochs, "limit": config.limit,
            "train_sources": sorted(task.frames["train"]["source"].unique().tolist()),
            "holdout_sources": sorted(config.holdout_sources) if config.holdout_sources else [],
            "manifest_sha256": manifest_sha256(config.manifest),
            "data_is_synthetic": bool(task.frames["train"]["source"].eq("demo").all()),
            "mixed_precision": bool(self.mixed_precision), "xla": bool(task.xla),
            "trunk_cache": isinstance(task, TrunkTask), "tta_flip": bool(config.tta_flip),
        }
        counts = task.cache_counts()
        if counts is not None:
            info["feature_cache"] = counts
        return info


def prepare(name: str, config: SearchConfig, log: Log, engine: str) -> ModelSearch:
    """A prepared `ModelSearch` of `name` (its `.entry`, `.task`, `.run_dir`); see ModelSearch.prepare."""
    return ModelSearch(name, config, log, engine).prepare()


class OptunaSearch:
    """The Optuna engine over one ModelSearch: opens (or resumes) the study, runs trials, finalises the best."""

    def __init__(self, search: ModelSearch, pruner: optuna.pruners.BasePruner | None = None):
        self.search = search
        self.config = search.config
        self.pruner = pruner or make_pruner(self.config.pruner, self.config.epochs)
        self.sampler = TrialSeededSampler(self.config.seed)
        self.failures: list[bool] = []
        self.bar = None

    def open(self) -> optuna.Study:
        config, name = self.config, self.search.study_name
        storage = open_storage(config.storage_url(), config.heartbeat)
        study = optuna.create_study(study_name=name, storage=storage, direction="maximize",
                                    sampler=self.sampler, pruner=self.pruner, load_if_exists=True)
        settings = self.search.settings
        if SETTINGS_ATTR not in study.user_attrs:
            # One attribute holding every setting, written in one call: a worker starting at the same moment sees all
            # of them or none, never half (one attribute per key let it read a half-written study as a mismatch).
            study.set_user_attr(SETTINGS_ATTR, settings)
        stored = study.user_attrs[SETTINGS_ATTR]
        diff = {k: (stored.get(k, STUDY_DEFAULTS.get(k)), settings[k]) for k in STUDY_KEYS
                if stored.get(k, STUDY_DEFAULTS.get(k)) != settings[k]}
        if diff:
            detail = ", ".join(f"{k}: stored {a!r} vs now {b!r}" for k, (a, b) in diff.items())
            raise StudyMismatchError(
                f"study {name!r} in {safe_url(config.storage_url())} was run with other settings ({detail}); "
                f"pass --study NAME for a new study or delete it")
        return study

    def objective(self, trial: optuna.Trial) -> float:
        search, config = self.search, self.config
        trial.set_user_attr(WORKER_ATTR, this_worker())
        trial.set_user_attr(SAMPLER_SEED_ATTR, trial_seed(config.seed, trial.number))
        hp = suggest(trial, search.space)
        zoo.reset_session(config.seed + trial.number)  # isolated: the last trial's graphs freed, seeds set afresh

        def report(epoch: int, value: float) -> None:
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch} with val_roc_auc={value:.4f}")

        try:
            fitted = search.task.fit(hp, config.epochs, config.patience, report)
        except optuna.TrialPruned:
            raise
        except Exception as err:
            # Kept on the trial so a study with no complete trial can say why instead of failing silently.
            trial.set_user_attr("error", f"{type(err).__name__}: {err}")
            raise
        trial.set_user_attr("best_epoch", fitted.best_epoch)
        trial.set_user_attr("history", fitted.history)
        checkpoint = search.checkpoint(f"trial-{trial.number}")
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        fitted.model.save(checkpoint)
        return fitted.best_value

    def on_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        seconds = trial.duration.total_seconds() if trial.duration else float("nan")
        value = "-" if trial.value is None else f"{trial.value:.4f}"
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items())
        tqdm.write(f"[{self.search.name}] trial {trial.number:3d} {trial.state.name.lower():8s} "
                   f"val_roc_auc={value} {seconds:6.1f}s  {params}", file=sys.stdout)
        self.bar.update(1 if trial.state in FINISHED else 0)
        self.failures.append(trial.state == TrialState.FAIL)
        # A configuration error fails every trial the same way; stop rather than loop on it forever.
        if len(self.failures) >= 3 and all(self.failures[-3:]):
            study.stop()

    def run(self) -> dict:
        search, config = self.search, self.config
        study = self.open()
        search.check_writable()
        search.prepare()
        stale = fail_dead_trials(study)
        done = sum(t.state in FINISHED for t in study.trials)
        if done or stale:
            search.log(f"[{search.name}] resuming study {study.study_name!r}: {done} finished trial(s) kept"
                       + (f", {stale} trial(s) of a killed worker marked failed" if stale else ""))
        self.bar = tqdm(total=config.trials, initial=min(done, config.trials), desc=search.name, unit="trial",
                        file=sys.stderr, disable=None)
        try:
            if done < config.trials:
                # n_trials bounds this worker; MaxTrialsCallback bounds the study when several workers share it.
                study.optimize(self.objective, n_trials=config.trials - done, timeout=config.timeout,
                               gc_after_trial=True, catch=(Exception,),
                               callbacks=[optuna.study.MaxTrialsCallback(config.trials, states=FINISHED),
                                          self.on_trial])
        except KeyboardInterrupt:
            kept = sum(t.state in FINISHED for t in study.trials)
            raise SearchInterrupted(
                f"interrupted: study {study.study_name!r} keeps its {kept} finished trial(s) in "
                f"{safe_url(config.storage_url())} (the running one is marked failed); run the same command "
                f"again to resume") from None
        finally:
            self.bar.close()
        fail_dead_trials(study)
        complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
        if not complete:
            failed = [t for t in study.trials if t.state == TrialState.FAIL]
            reason = failed[-1].user_attrs.get("error", "see the log") if failed else "every trial was pruned"
            raise RuntimeError(f"study {study.study_name!r} has no complete trial ({reason}); nothing to evaluate")
        best = study.best_trial
        return search.finalise(BestTrial(best.number, float(best.value), dict(best.params),
                                         search.checkpoint(f"trial-{best.number}"),
                                         best.user_attrs.get("history", {})),
                               records=_records(study), importances=_importances(study))


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


def run_model_search(name: str, config: SearchConfig, log: Log = print,
                     pruner: optuna.pruners.BasePruner | None = None) -> dict | None:
    """Run (or resume) the study for one model and write runs/<name>/; returns its metrics (None for a dry run)."""
    search = ModelSearch(name, config, log, "optuna")
    with search.numerics():
        if config.dry_run:
            search.prepare()
            return None
        return OptunaSearch(search, pruner).run()


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def score_frame(model: keras.Model, frame: pd.DataFrame, image_size: int, batch_size: int,
                flip: bool = False) -> np.ndarray:
    """P(fake) of every row of `frame` from a raw-image model, through the evaluation pipeline (no augmentation);
    `flip=True` scores each image's left-right mirror instead."""
    # make_dataset reads one split; held-out rows come from every split, so they are relabelled in a copy.
    rows = frame.reset_index(drop=True).assign(split="test")
    data = make_dataset(rows, "test", image_size, batch_size=batch_size, shuffle=False)
    if flip:
        data = data.map(lambda images, labels: (images[:, :, ::-1, :], labels))
    return np.asarray(model.predict(data, verbose=0), dtype=np.float32).reshape(-1)


def _check_export(model_path: Path, task: Task, expected: np.ndarray, n: int = 8) -> None:
    """The saved model, fed raw images, must reproduce the scores the search computed: the preprocessing is inside."""
    reloaded = keras.saving.load_model(model_path)
    images = first_images(task.frames["test"], task.image_size, n)
    got = np.asarray(reloaded.predict(images, verbose=0)).reshape(-1)
    if not np.allclose(got, expected[: len(got)], atol=2e-3):
        raise RuntimeError(f"saved model {model_path} disagrees with the search's own scores "
                           f"(max diff {np.max(np.abs(got - expected[:len(got)])):.4f}); refusing to publish it")


def search_models(config: SearchConfig, run_one: Callable[[str], dict | None], log: Log = print
                  ) -> dict[str, dict | None]:
    """Run `run_one(name)` for every model `config.model` resolves to, then log the summary table.

    With several models and `keep_going`, one whose weights are unavailable is skipped with a line, not fatal.
    """
    names = zoo.resolve_models(config.model)
    results: dict[str, dict | None] = {}
    for name in names:
        try:
            results[name] = run_one(name)
        except zoo.WeightsUnavailableError as err:
            if len(names) == 1 or not config.keep_going:
                raise
            log(f"[{name}] skipped: {err}")
    summary(results, log)
    return results


def run_search(config: SearchConfig, log: Log = print, pruner=None) -> dict[str, dict | None]:
    """Run the study of every model `config.model` resolves to (a name, a family, a glob or `all`)."""
    if not config.dry_run:
        # Before any data preparation: a wrong URL or a database that does not answer is one line, at once.
        open_storage(config.storage_url(), config.heartbeat)
    return search_models(config, lambda name: run_model_search(name, config, log, pruner), log)


def summary(results: dict[str, dict | None], log: Log) -> None:
    """The table of every finished model, best validation ROC AUC first (the test columns report, never choose)."""
    done = {k: v for k, v in results.items() if v}
    if not done:
        return
    log("\nmodel                          val roc_auc  accuracy  roc_auc   eer     trials (complete/pruned/failed)")
    for name, m in sorted(done.items(), key=lambda kv: rank_key(kv[1], DEFAULT_RANK_BY, kv[0])):
        t = m["trials"]
        log(f"{name:30s} {_fmt(lookup_number(m, DEFAULT_RANK_BY)):11s}  {m['accuracy']:.4f}    {_fmt(m['roc_auc'])}    "
            f"{_fmt(m['eer'])}  {t['complete']}/{t['pruned']}/{t['failed']}")
