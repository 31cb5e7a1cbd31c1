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
from deepfake_zoo.search.study import BestTrial, Log, ModelSearch, search_models

STATES = {"COMPLETED": "COMPLETE", "STOPPED": "PRUNED", "INVALID": "FAIL", "FAILED": "FAIL"}


class ZooTuner(kt.Tuner):
    """Runs each Keras Tuner trial through the project's own training loop instead of a bare `model.fit`."""

    def __init__(self, model_search: ModelSearch, **kwargs):
        self.model_search = model_search  # not `search`: that is the Tuner's own method
        super().__init__(**kwargs)

    def run_trial(self, trial, *args, **kwargs):
        search, config = self.model_search, self.model_search.config
        started = time.perf_counter()
        hp = kerastuner_values(trial.hyperparameters, search.space)
        epochs = int(trial.hyperparameters.values.get("tuner/epochs", config.epochs))
        zoo.reset_session(config.seed + len(self.oracle.trials))
        fitted = search.task.fit(hp, epochs, config.patience)
        fitted.model.save(search.checkpoint(f"kt-{trial.trial_id}"))
        meta = {"history": fitted.history, "duration_s": time.perf_counter() - started, "params": hp}
        _meta_path(search, trial.trial_id).write_text(json.dumps(meta))
        search.log(f"[{search.name}] kerastuner trial {trial.trial_id} val_roc_auc={fitted.best_value:.4f} "
                   f"{meta['duration_s']:.1f}s  {hp}")
        return {"val_roc_auc": fitted.best_value}


def _meta_path(search: ModelSearch, trial_id: str) -> Path:
    return search.checkpoint(f"kt-{trial_id}").with_suffix(".json")


def _meta(search: ModelSearch, trial_id: str) -> dict:
    path = _meta_path(search, trial_id)
    return json.loads(path.read_text()) if path.is_file() else {}


def run_model_search(name: str, config: SearchConfig, log: Log = print) -> dict | None:
    search = ModelSearch(name, config, log, "kerastuner")
    with search.numerics():
        if not config.dry_run:
            search.check_writable()
        search.prepare("kerastuner (Hyperband)")
        return None if config.dry_run else _run(search)


def _run(search: ModelSearch) -> dict:
    config = search.config
    space = kt.HyperParameters()
    kerastuner_values(space, search.space)  # declared up front, so Hyperband samples every parameter
    oracle = kt.oracles.HyperbandOracle(objective=kt.Objective("val_roc_auc", "max"), max_epochs=config.epochs,
                                        factor=3, seed=config.seed, hyperparameters=space,
                                        max_consecutive_failed_trials=3)
    # The tuner's own state belongs to its study too, beside the study's checkpoints.
    tuner = ZooTuner(search, oracle=oracle, directory=str(search.work_dir), project_name="kerastuner")
    tuner.search()
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id)
    records = []
    for number, t in enumerate(trials):
        meta = _meta(search, t.trial_id)
        params = meta.get("params") or {k: v for k, v in t.hyperparameters.values.items()
                                        if not k.startswith("tuner/")}
        records.append(TrialRecord(number=number, state=STATES.get(t.status, t.status), value=t.score,
                                   duration_s=meta.get("duration_s"), params=params,
                                   intermediate=meta.get("history", {}).get("val_roc_auc", [])))
    best_t = tuner.oracle.get_best_trials(1)[0]
    number = [t.trial_id for t in trials].index(best_t.trial_id)
    best = BestTrial(number, float(best_t.score), records[number].params,
                     search.checkpoint(f"kt-{best_t.trial_id}"), _meta(search, best_t.trial_id).get("history", {}))
    for stale in (search.work_dir / "checkpoints").glob("kt-*.json"):
        stale.unlink(missing_ok=True)
    return search.finalise(best, records=records, importances={})


def run_search(config: SearchConfig, log: Log = print) -> dict[str, dict | None]:
    """Every model `config.model` resolves to, searched with Hyperband; `keep_going` as in the Optuna engine."""
    return search_models(config, lambda name: run_model_search(name, config, log), log)
