"""Calibration: ECE and Brier on seeded synthetic scores, temperature scaling fitted on validation only."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from deepfake_zoo.search.calibration import (apply_temperature, brier_score, calibration_block, calibration_of,
                                             expected_calibration_error, fit_temperature, reliability_bins)
from deepfake_zoo.search.metrics import binary_metrics, choose_threshold


def calibrated_set(n: int, seed: int, scale: float = 2.0):
    """Logits, and labels drawn from sigmoid(logit): scores sigmoid(logit) are perfectly calibrated by construction."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, scale, n)
    labels = (rng.random(n) < expit(logits)).astype(int)
    return logits, labels


def test_ece_is_near_zero_for_calibrated_scores_and_large_for_over_confident_ones():
    logits, labels = calibrated_set(20000, seed=0)
    calibrated, over_confident = expit(logits), expit(3.0 * logits)

    assert expected_calibration_error(labels, calibrated) < 0.02
    assert expected_calibration_error(labels, over_confident) > 0.08
    assert brier_score(labels, over_confident) > brier_score(labels, calibrated)


def test_ece_by_hand_and_the_last_bin_holds_one():
    labels = [0, 0, 1, 1, 1]
    scores = [0.0, 0.3, 0.3, 1.0, 1.0]
    # Bin of 0.0: |0 - 0| = 0; bin of 0.3: |0.5 - 0.3| = 0.2 (2 images); top bin (with 1.0): |1 - 1| = 0.
    assert expected_calibration_error(labels, scores) == pytest.approx(2 / 5 * 0.2)
    bins = reliability_bins(labels, scores)
    assert len(bins) == 15 and sum(b["n"] for b in bins) == 5
    assert bins[-1]["n"] == 2 and bins[-1]["upper"] == 1.0
    assert brier_score([0, 1], [0.0, 1.0]) == 0.0 and brier_score([0, 1], [0.5, 0.5]) == 0.25


@pytest.mark.parametrize("true_temperature", [0.5, 2.5])
def test_fitted_temperature_recovers_the_known_one(true_temperature):
    logits, labels = calibrated_set(20000, seed=1)
    # Logits multiplied by T (over-confident for T > 1, timid for T < 1): dividing by the fitted T must undo it.
    distorted = expit(true_temperature * logits)

    fitted = fit_temperature(labels, distorted)

    assert fitted == pytest.approx(true_temperature, rel=0.08)


def test_scaling_fitted_on_validation_lowers_test_ece_and_keeps_the_ranking():
    val_logits, val_labels = calibrated_set(5000, seed=2)
    test_logits, test_labels = calibrated_set(5000, seed=3)
    over = 3.0  # an over-confident network: logits three times too large
    val_scores, test_scores = expit(over * val_logits), expit(over * test_logits)

    block = calibration_block(val_labels, val_scores, test_labels, test_scores)["calibration"]

    assert block["temperature"] == pytest.approx(over, rel=0.1)
    assert block["ece_after"] < block["ece_before"] / 3
    assert block["brier_after"] < block["brier_before"]
    calibrated_test = apply_temperature(test_scores, block["temperature"])
    assert binary_metrics(test_labels, calibrated_test, 0.5)["roc_auc"] == pytest.approx(
        binary_metrics(test_labels, test_scores, 0.5)["roc_auc"])
    # The threshold is re-chosen by the same rule on the calibrated validation scores.
    assert block["threshold"] == choose_threshold(val_labels, apply_temperature(val_scores, block["temperature"]))
    assert (block["n_validation"], block["n_test"], block["bins"]) == (5000, 5000, 15)
    assert sum(b["n"] for b in block["reliability_after"]) == 5000


def test_saturated_scores_stay_finite_and_one_class_gives_temperature_one():
    labels = np.array([0, 1, 1, 0])
    scores = np.array([0.0, 1.0, 1.0, 0.0], dtype=np.float32)
    assert np.isfinite(fit_temperature(labels, scores))
    assert np.all(np.isfinite(apply_temperature(scores, 2.0)))
    assert fit_temperature([1, 1, 1], [0.2, 0.9, 0.6]) == 1.0


def test_bad_inputs_are_one_sentence_errors():
    with pytest.raises(ValueError, match="differ in length"):
        brier_score([0, 1], [0.5])
    with pytest.raises(ValueError, match=r"P\(fake\) values in \[0, 1\]"):
        expected_calibration_error([0, 1], [0.5, 1.5])
    with pytest.raises(ValueError, match="0 \\(real\\) or 1 \\(fake\\)"):
        brier_score([0, 2], [0.5, 0.5])
    with pytest.raises(ValueError, match="positive number"):
        apply_temperature([0.5], 0.0)


def test_calibration_of_reads_a_metrics_block_or_falls_back():
    assert calibration_of({"calibration": {"temperature": 1.7, "threshold": 0.4}}) == (1.7, 0.4)
    assert calibration_of({"threshold": 0.3}) == (None, None)
    assert calibration_of({"calibration": {"temperature": -1, "threshold": 0.4}}) == (None, None)
    assert calibration_of({"calibration": {"temperature": 1.2, "threshold": 1.4}}) == (None, None)
