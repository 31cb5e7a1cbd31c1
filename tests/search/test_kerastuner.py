"""ENGINE=kerastuner: Keras Tuner's Hyperband over the same zoo space, results in the same files."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from deepfake_zoo.search.kerastuner_engine import run_model_search

pytestmark = pytest.mark.slow


def test_hyperband_writes_the_same_result_files(config_for):
    config = config_for(model="tiny_search_frozen", epochs=3, engine="kerastuner")
    metrics = run_model_search("tiny_search_frozen", config, log=lambda _: None)
    run = config.runs_dir / "tiny_search_frozen"
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["engine"] == "kerastuner" and saved["accuracy"] == metrics["accuracy"]
    trials = pd.read_csv(run / "trials.csv")
    # Hyperband with max_epochs=3, factor=3 runs a bracket of several configurations.
    assert len(trials) >= 3 and (trials["state"] == "COMPLETE").sum() == metrics["trials"]["complete"] >= 3
    assert set(saved["best_params"]) == {"learning_rate", "head_units", "dropout", "augment"}
    assert (run / "model.keras").is_file() and (run / "predictions.csv").is_file()
    assert saved["best_value"] == pytest.approx(trials["value"].max())
