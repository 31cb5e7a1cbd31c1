"""A run's calibration (temperature fitted on validation) reaches every reader: search writes it, predict applies it."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from predict_fixtures import write_tiny_run

from deepfake_zoo.predict.models import read_run
from deepfake_zoo.predict.scoring import Predictor
from deepfake_zoo.search.calibration import apply_temperature
from deepfake_zoo.search.results import write_results


def test_results_carry_calibration_fitted_on_validation_only(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 200)
    # Over-confident validation scores: scaling must soften them (T > 1) and lower the test ECE.
    logits = (labels * 2 - 1) * 1.0 + rng.normal(0, 1.2, labels.size)
    val_scores = 1 / (1 + np.exp(-4 * logits))
    frame = pd.DataFrame({"path": [f"{i}.png" for i in range(labels.size)], "source": "s", "label": labels})
    metrics = write_results(tmp_path, info={}, val_frame=frame, val_scores=val_scores, test_frame=frame,
                            test_scores=val_scores, trials=[], importances={}, history={})
    block = metrics["calibration"]
    assert block["temperature"] > 2 and block["ece_after"] < block["ece_before"]
    assert metrics["ece"] == block["ece_after"] and metrics["brier"] == block["brier_after"]
    assert json.loads((tmp_path / "metrics.json").read_text())["calibration"]["temperature"] == block["temperature"]
    # The test split never moves T: the same validation with other test scores gives the same temperature.
    other = write_results(tmp_path, info={}, val_frame=frame, val_scores=val_scores, test_frame=frame,
                          test_scores=rng.uniform(size=labels.size), trials=[], importances={}, history={})
    assert other["calibration"]["temperature"] == block["temperature"]


@pytest.mark.slow
def test_predict_serves_the_calibrated_probability_and_threshold(tmp_path):
    plain = write_tiny_run(tmp_path / "runs", "plain", threshold=0.5)
    scaled = write_tiny_run(tmp_path / "runs", "scaled", threshold=0.5,
                            calibration={"temperature": 3.0, "threshold": 0.51})
    images = np.random.default_rng(1).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    raw = Predictor(read_run(plain)).score_batch(images)
    run = read_run(scaled)
    assert run.temperature == 3.0 and run.threshold == 0.51
    calibrated = Predictor(run).score_batch(images)
    np.testing.assert_allclose(calibrated, apply_temperature(raw, 3.0), rtol=1e-5)
    assert not np.allclose(calibrated, raw)
    # A run without a usable block keeps its own threshold and raw scores.
    broken = write_tiny_run(tmp_path / "runs", "broken", threshold=0.4, calibration={"temperature": -1})
    assert read_run(broken).temperature is None and read_run(broken).threshold == 0.4


@pytest.mark.slow
def test_tta_flip_averages_the_image_and_its_mirror(tmp_path):
    run = read_run(write_tiny_run(tmp_path / "runs", "tiny", threshold=0.5))
    images = np.random.default_rng(2).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    plain = Predictor(run)
    both = (plain.score_batch(images) + plain.score_batch(images[:, :, ::-1, :].copy())) / 2
    flipped = Predictor(run, flip=True).score_batch(images)
    np.testing.assert_allclose(flipped, both, rtol=1e-5)
    assert not np.allclose(flipped, plain.score_batch(images))
