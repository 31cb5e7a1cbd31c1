"""Metrics: EER, threshold choice and per-source evaluation checked against independent computations."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from deepfake_zoo.search.metrics import binary_metrics, choose_threshold, equal_error_rate, evaluate_predictions


def brute_force_eer(labels, scores):
    """EER by scanning every threshold: the point where FPR and FNR are closest, averaged."""
    best = None
    for t in np.unique(np.concatenate([scores, [np.inf]])):
        pred = scores >= t
        fpr = np.mean(pred[labels == 0])
        fnr = np.mean(~pred[labels == 1])
        if best is None or abs(fpr - fnr) < best[0]:
            best = (abs(fpr - fnr), (fpr + fnr) / 2)
    return best[1]


def test_eer_of_perfect_and_random_scores():
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert equal_error_rate(labels, np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])) == pytest.approx(0.0)
    assert equal_error_rate(labels, np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1])) == pytest.approx(1.0)


def test_eer_matches_brute_force_on_random_scores():
    rng = np.random.default_rng(0)  # seeded
    labels = rng.integers(0, 2, 400)
    scores = np.clip(labels * 0.3 + rng.normal(0.35, 0.2, 400), 0, 1)
    assert equal_error_rate(labels, scores) == pytest.approx(brute_force_eer(labels, scores), abs=0.01)


def test_threshold_maximises_balanced_accuracy():
    rng = np.random.default_rng(1)
    labels = np.r_[np.zeros(300), np.ones(100)].astype(int)
    scores = np.clip(np.r_[rng.normal(0.6, 0.1, 300), rng.normal(0.8, 0.1, 100)], 0, 1)
    t = choose_threshold(labels, scores)

    def balanced(th):
        pred = scores >= th
        return (np.mean(~pred[labels == 0]) + np.mean(pred[labels == 1])) / 2

    assert balanced(t) >= max(balanced(x) for x in np.linspace(0, 1, 201)) - 1e-9
    assert 0.6 < t < 0.8  # a blind 0.5 would call most reals fake here


def test_binary_metrics_confusion_and_auc():
    labels = np.array([0, 0, 1, 1, 1])
    scores = np.array([0.2, 0.6, 0.4, 0.7, 0.9])
    m = binary_metrics(labels, scores, 0.5)
    assert m["confusion_matrix"] == [[1, 1], [1, 2]]
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(labels, scores))
    assert m["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))


def test_single_class_source_has_no_auc_but_has_accuracy():
    frame = pd.DataFrame({"label": [0, 0, 1, 1], "prob_fake": [0.1, 0.9, 0.8, 0.7], "source": ["a", "a", "b", "b"]})
    out = evaluate_predictions(frame, 0.5)
    assert out["per_source"]["a"]["roc_auc"] is None
    assert out["per_source"]["a"]["accuracy"] == pytest.approx(0.5)
    assert out["per_source"]["b"]["accuracy"] == pytest.approx(1.0)
    assert out["n"] == 4
