"""A short Optuna study end to end: trials, pruning, result files, test metrics recomputed from the predictions."""
from __future__ import annotations

import json

import keras
import numpy as np
import optuna
import pandas as pd
import pytest

from deepfake_zoo.datasets.images import load_for_model
from deepfake_zoo.search import study as study_module
from deepfake_zoo.search.metrics import binary_metrics
from deepfake_zoo.search.study import run_model_search

pytestmark = pytest.mark.slow


class PruneTrialOne(optuna.pruners.BasePruner):
    """A pruner forced to prune: trial 1 is stopped at its first report, every other trial runs to the end."""

    def prune(self, study, trial) -> bool:
        return trial.number == 1


def test_three_trial_study_writes_every_result_and_prunes(config_for):
    config = config_for(model="tiny_search_finetune", trials=3, epochs=2)
    metrics = run_model_search("tiny_search_finetune", config, log=lambda _: None, pruner=PruneTrialOne())
    run = config.runs_dir / "tiny_search_finetune"
    for name in ("metrics.json", "predictions.csv", "val_predictions.csv", "trials.csv", "importances.json",
                 "history.json", "model.keras"):
        assert (run / name).is_file(), name
    assert metrics["trials"] == {"complete": 2, "pruned": 1, "failed": 0}
    trials = pd.read_csv(run / "trials.csv")
    assert list(trials["state"]) == ["COMPLETE", "PRUNED", "COMPLETE"]
    assert len(json.loads(trials.loc[1, "intermediate"])) == 1  # pruned after its first epoch

    # The test metrics are exactly what the predictions file says, at the threshold chosen on validation.
    saved = json.loads((run / "metrics.json").read_text())
    pred = pd.read_csv(run / "predictions.csv")
    again = binary_metrics(pred["label"], pred["prob_fake"], saved["threshold"])
    for key in ("accuracy", "roc_auc", "eer", "average_precision", "f1"):
        assert again[key] == pytest.approx(saved[key]), key
    assert again["confusion_matrix"] == saved["confusion_matrix"]
    assert np.array_equal(pred["pred"], (pred["prob_fake"] >= saved["threshold"]).astype(int))
    assert sum(map(sum, saved["confusion_matrix"])) == saved["n_test"] == len(pred)
    assert set(pred["path"]).isdisjoint(pd.read_csv(run / "val_predictions.csv")["path"])
    assert saved["weights"] == "none" and saved["best_params"].keys() == {"learning_rate", "head_units",
                                                                          "dropout", "augment"}

    # The saved model takes raw RGB files as predict will feed them and reproduces the scores.
    model = keras.saving.load_model(run / "model.keras")
    images = np.stack([load_for_model(p, saved["image_size"]) for p in pred["path"][:6]])
    assert model.predict(images, verbose=0).reshape(-1) == pytest.approx(pred["prob_fake"][:6], abs=2e-3)


def test_rerun_of_a_finished_study_adds_no_trial(config_for):
    config = config_for(model="tiny_search_frozen", trials=2, epochs=1)
    run_model_search("tiny_search_frozen", config, log=lambda _: None)
    again = run_model_search("tiny_search_frozen", config, log=lambda _: None)
    assert again["trials"]["complete"] == 2


def test_study_with_other_settings_is_refused(config_for):
    config = config_for(model="tiny_search_frozen", trials=1, epochs=1)
    run_model_search("tiny_search_frozen", config, log=lambda _: None)
    changed = config_for(model="tiny_search_frozen", trials=1, epochs=1, image_size=48)
    with pytest.raises(study_module.StudyMismatchError, match="image_size"):
        run_model_search("tiny_search_frozen", changed, log=lambda _: None)


def test_dry_run_estimates_without_creating_a_study(config_for):
    lines = []
    config = config_for(model="tiny_search_finetune", dry_run=True)
    assert run_model_search("tiny_search_finetune", config, log=lines.append) is None
    assert "estimated" in lines[0]
    assert not (config.runs_dir / "optuna.db").exists()


def test_tta_flip_scores_val_and_test_as_the_mean_over_each_image_and_its_mirror(config_for):
    from deepfake_zoo.predict.models import read_run
    from deepfake_zoo.predict.scoring import Predictor

    config = config_for(model="tiny_search_frozen", trials=1, epochs=1, tta_flip=True)
    metrics = run_model_search("tiny_search_frozen", config, log=lambda _: None)
    run = config.runs_dir / "tiny_search_frozen"
    saved = json.loads((run / "metrics.json").read_text())
    assert metrics["tta_flip"] is True and saved["tta_flip"] is True
    model = keras.saving.load_model(run / "model.keras")
    for name in ("val_predictions.csv", "predictions.csv"):
        pred = pd.read_csv(run / name)
        raw = pred["prob_fake_raw"] if "prob_fake_raw" in pred else pred["prob_fake"]
        images = np.stack([load_for_model(p, saved["image_size"]) for p in pred["path"][:6]])
        plain = model.predict(images, verbose=0).reshape(-1)
        mirrored = model.predict(images[:, :, ::-1, :], verbose=0).reshape(-1)
        assert not np.allclose(plain, mirrored, atol=1e-4)  # the mirror is a different input to this model
        np.testing.assert_allclose(raw[:6], (plain + mirrored) / 2, atol=2e-3)
    # The run is scored the same way wherever it is used later.
    assert read_run(run).tta_flip is True and Predictor(read_run(run)).flip is True
    plain_config = config_for(model="tiny_search_frozen", trials=1, epochs=1, runs=str(config.runs_dir / "plain"))
    run_model_search("tiny_search_frozen", plain_config, log=lambda _: None)
    assert read_run(plain_config.runs_dir / "tiny_search_frozen").tta_flip is False


def test_the_closing_table_lists_models_best_validation_first():
    from deepfake_zoo.search.study import summary

    trials = {"complete": 1, "pruned": 0, "failed": 0}
    lines: list[str] = []
    summary({"tests_better": {"validation": {"roc_auc": 0.70}, "accuracy": 0.9, "roc_auc": 0.95, "eer": 0.1,
                              "trials": trials},
             "chosen": {"validation": {"roc_auc": 0.80}, "accuracy": 0.7, "roc_auc": 0.75, "eer": 0.3,
                        "trials": trials},
             "failed": None}, lines.append)
    rows = [line.split()[0] for line in "\n".join(lines).splitlines()[2:]]
    assert rows == ["chosen", "tests_better"]
    assert "val roc_auc" in lines[0]
