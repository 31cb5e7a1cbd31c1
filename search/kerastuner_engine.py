"""The same search with Keras Tuner's Hyperband (`--engine kerastuner`), writing results in the same format.

Optuna stays the default: it prunes per epoch, shares studies through an RDB and resumes killed workers. This engine is
here so a Keras Tuner user can compare like with like: same zoo search space, same training (cached features for
frozen backbones), same validation-only selection and the same runs/<model>/ files.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import keras_tuner as kt

from deepfake_zoo import zoo
from deepfake_zoo.search.config import SearchConfig
from deepfake_zoo.search.results import TrialRecord
from deepfake_zoo.search.space import kerastuner_values
from deepfake_zoo.search.study import BestTrial, Log, _summary, finalise, prepare
from deepfake_zoo.search.training import Task

STATES = {"COMPLETED": "COMPLETE", "STOPPED": "PRUNED", "INVALID": "FAIL", "FAILED": "FAIL"}


class ZooTuner(kt.Tuner):
    """Runs each Keras Tuner trial through the project's own training loop instead of a bare `model.fit`."""

    def __init__(self, task: Task, space: dict, config: SearchConfig, run_dir: Path, log: Log, **kwargs):
        self.task, self.space, self.config, self.run_dir, self.log = task, space, config, run_dir, log
        super().__init__(**kwargs)

    def run_trial(self, trial, *args, **kwargs):
        started = time.perf_counter()
        hp = kerastuner_values(trial.hyperparameters, self.space)
        epochs = int(trial.hyperparameters.values.get("tuner/epochs", self.config.epochs))
        zoo.reset_session(self.config.seed + len(self.oracle.trials))
        fitted = self.task.fit(hp, epochs, self.config.patience)
        fitted.model.save(self.run_dir / "checkpoints" / f"kt-{trial.trial_id}.keras")
        meta = {"history": fitted.history, "duration_s": time.perf_counter() - started, "params": hp}
        (self.run_dir / "checkpoints" / f"kt-{trial.trial_id}.json").write_text(json.dumps(meta))
        self.log(f"[{self.task.entry.name}] kerastuner trial {trial.trial_id} val_roc_auc={fitted.best_value:.4f} "
                 f"{meta['duration_s']:.1f}s  {hp}")
        return {"val_roc_auc": fitted.best_value}


def _meta(run_dir: Path, trial_id: str) -> dict:
    path = run_dir / "checkpoints" / f"kt-{trial_id}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def run_model_search(name: str, config: SearchConfig, log: Log = print) -> dict | None:
    started = time.perf_counter()
    entry, task, run_dir = prepare(name, config, log, "kerastuner (Hyperband)")
    if config.dry_run:
        return None
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    space = kt.HyperParameters()
    kerastuner_values(space, entry.search_space)  # declared up front, so Hyperband samples every parameter
    oracle = kt.oracles.HyperbandOracle(objective=kt.Objective("val_roc_auc", "max"), max_epochs=config.epochs,
                                        factor=3, seed=config.seed, hyperparameters=space,
                                        max_consecutive_failed_trials=3)
    tuner = ZooTuner(task, entry.search_space, config, run_dir, log, oracle=oracle,
                     directory=str(config.runs_dir / "kerastuner"), project_name=config.study or name)
    tuner.search()
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id)
    records = []
    for number, t in enumerate(trials):
        meta = _meta(run_dir, t.trial_id)
        params = meta.get("params") or {k: v for k, v in t.hyperparameters.values.items()
                                        if not k.startswith("tuner/")}
        records.append(TrialRecord(number=number, state=STATES.get(t.status, t.status), value=t.score,
                                   duration_s=meta.get("duration_s"), params=params,
                                   intermediate=meta.get("history", {}).get("val_roc_auc", [])))
    best_t = tuner.oracle.get_best_trials(1)[0]
    number = [t.trial_id for t in trials].index(best_t.trial_id)
    meta = _meta(run_dir, best_t.trial_id)
    best = BestTrial(number, float(best_t.score), records[number].params,
                     run_dir / "checkpoints" / f"kt-{best_t.trial_id}.keras", meta.get("history", {}))
    for stale in (run_dir / "checkpoints").glob("kt-*.json"):
        stale.unlink(missing_ok=True)
    return finalise(entry, task, best, records=records, importances={}, run_dir=run_dir, config=config,
                    started=started, engine="kerastuner", study_name=config.study or name, log=log)


def run_search(config: SearchConfig, log: Log = print) -> dict[str, dict | None]:
    results = {name: run_model_search(name, config, log) for name in zoo.resolve_models(config.model)}
    _summary(results, log)
    return results
