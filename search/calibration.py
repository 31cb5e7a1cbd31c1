"""Is P(fake) a probability? Expected calibration error, Brier score, and temperature scaling fitted on validation.

A detector that says 0.95 should be right about 95% of the time. Trained networks are usually over-confident, so the
run stores one temperature T, fitted on the validation split only, and every reader of the run (evaluate, predict)
reports `calibrate(P(fake), T) = sigmoid(logit(P(fake)) / T)`. T > 1 softens over-confident scores, T < 1 sharpens
timid ones. The transform is monotonic, so ROC AUC, EER and the ranking are unchanged; only the probabilities (and
so ECE, Brier and the threshold's numeric value) move. The threshold is re-chosen on the calibrated validation scores
with the same rule as the uncalibrated one (`search.metrics.choose_threshold`).

ECE here is the calibration of P(fake) itself (the reliability diagram's y = x line), with 15 equal-width bins over
[0, 1]: sum over bins of (bin share of images) x |fraction fake in bin - mean P(fake) in bin|.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

from deepfake_zoo.search.metrics import choose_threshold

ECE_BINS = 15
# Scores are clipped this far from 0 and 1 before taking logits: a saturated sigmoid (exactly 1.0 in float32) would
# otherwise give an infinite logit and no temperature could fix it.
EPSILON = 1e-7
# log T is searched in this range (T from about 0.007 to 150); a fit at either end means the scores carry no signal.
LOG_T_BOUNDS = (-5.0, 5.0)


def _labels_and_scores(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels, dtype=float).reshape(-1)
    scores = np.asarray(scores, dtype=float).reshape(-1)
    if labels.shape != scores.shape:
        raise ValueError(f"labels and scores differ in length ({len(labels)} vs {len(scores)}); pass one score per "
                         "labelled image")
    if len(labels) == 0:
        raise ValueError("no labelled scores to calibrate on; the split is empty")
    if not np.all(np.isin(labels, (0.0, 1.0))):
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    if not np.all(np.isfinite(scores)) or scores.min() < 0.0 or scores.max() > 1.0:
        raise ValueError("scores must be P(fake) values in [0, 1]")
    return labels, scores


def reliability_bins(labels, scores, bins: int = ECE_BINS) -> list[dict]:
    """Per equal-width bin of P(fake): its edges, image count, mean P(fake) and fraction fake (None when empty).

    The last bin includes 1.0. These are the points of a reliability diagram.
    """
    labels, scores = _labels_and_scores(labels, scores)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # np.digitize against the inner edges puts x in bin i when edges[i] <= x < edges[i+1], and 1.0 in the last bin.
    index = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    out = []
    for i in range(bins):
        mask = index == i
        n = int(mask.sum())
        out.append({"lower": float(edges[i]), "upper": float(edges[i + 1]), "n": n,
                    "mean_prob": float(scores[mask].mean()) if n else None,
                    "fraction_fake": float(labels[mask].mean()) if n else None})
    return out


def expected_calibration_error(labels, scores, bins: int = ECE_BINS) -> float:
    """ECE of P(fake) over `bins` equal-width bins (0 = perfectly calibrated, at most 1).

    >>> round(expected_calibration_error([0, 1, 1, 0], [0.1, 0.9, 0.9, 0.1]), 3)
    0.1
    """
    n = len(np.asarray(labels).reshape(-1))
    return float(sum(b["n"] / n * abs(b["fraction_fake"] - b["mean_prob"])
                     for b in reliability_bins(labels, scores, bins) if b["n"]))


def brier_score(labels, scores) -> float:
    """Mean squared difference between P(fake) and the label (0 is perfect, 0.25 is a constant 0.5)."""
    labels, scores = _labels_and_scores(labels, scores)
    return float(np.mean((scores - labels) ** 2))


def to_logits(scores) -> np.ndarray:
    """logit(P(fake)), with P clipped to [EPSILON, 1 - EPSILON] so saturated scores stay finite."""
    return special.logit(np.clip(np.asarray(scores, dtype=float), EPSILON, 1.0 - EPSILON))


def apply_temperature(scores, temperature: float) -> np.ndarray:
    """Calibrated P(fake): sigmoid(logit(P) / T). T = 1 returns the scores (up to the clipping of saturated ones)."""
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}; refit it on validation")
    return special.expit(to_logits(scores) / float(temperature))


def _nll(labels: np.ndarray, logits: np.ndarray, temperature: float) -> float:
    z = logits / temperature
    # Binary cross-entropy in its stable form: log(1 + e^z) - y z.
    return float(np.mean(np.logaddexp(0.0, z) - labels * z))


def fit_temperature(labels, scores) -> float:
    """The temperature minimising the negative log-likelihood of validation labels under sigmoid(logit(P) / T).

    Use validation scores only: fitted on test, the calibrated test numbers would be optimistic. Returns 1.0 when
    the split holds a single class (any T > 0 would look best at an extreme, which says nothing).

    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(0, 2, 5000)
    >>> labels = rng.random(5000) < 1 / (1 + np.exp(-logits))
    >>> round(fit_temperature(labels, 1 / (1 + np.exp(-3 * logits))), 1)  # scores 3x over-confident
    3.0
    """
    labels, scores = _labels_and_scores(labels, scores)
    if len(np.unique(labels)) < 2:
        return 1.0
    logits = to_logits(scores)
    result = optimize.minimize_scalar(lambda log_t: _nll(labels, logits, math.exp(log_t)), bounds=LOG_T_BOUNDS,
                                      method="bounded", options={"xatol": 1e-6})
    return float(math.exp(result.x))


def calibration_block(val_labels, val_scores, test_labels, test_scores, bins: int = ECE_BINS) -> dict:
    """What a run's metrics.json stores about calibration: T fitted on validation, the threshold re-chosen on the
    calibrated validation scores, and test ECE / Brier before and after scaling (plus both reliability diagrams).

    >>> block = calibration_block([0, 1, 0, 1], [0.2, 0.9, 0.4, 0.7], [0, 1], [0.1, 0.8])  # doctest: +SKIP
    >>> sorted(block["calibration"])  # doctest: +SKIP
    ['bins', 'brier_after', 'brier_before', 'ece_after', 'ece_before', 'n_test', 'n_validation', 'reliability_after',
     'reliability_before', 'temperature', 'threshold']
    """
    val_labels, val_scores = _labels_and_scores(val_labels, val_scores)
    test_labels, test_scores = _labels_and_scores(test_labels, test_scores)
    temperature = fit_temperature(val_labels, val_scores)
    calibrated_test = apply_temperature(test_scores, temperature)
    return {"calibration": {
        "temperature": temperature,
        "threshold": choose_threshold(val_labels.astype(int), apply_temperature(val_scores, temperature)),
        "ece_before": expected_calibration_error(test_labels, test_scores, bins),
        "ece_after": expected_calibration_error(test_labels, calibrated_test, bins),
        "brier_before": brier_score(test_labels, test_scores),
        "brier_after": brier_score(test_labels, calibrated_test),
        "bins": bins,
        "n_validation": int(len(val_labels)),
        "n_test": int(len(test_labels)),
        "reliability_before": reliability_bins(test_labels, test_scores, bins),
        "reliability_after": reliability_bins(test_labels, calibrated_test, bins),
    }}


def calibration_of(metrics: dict) -> tuple[float | None, float | None]:
    """(temperature, threshold) from a run's metrics.json `calibration` block, or (None, None) when it has none
    or the values are not usable (a reader then falls back to the run's uncalibrated threshold)."""
    block = metrics.get("calibration") if isinstance(metrics, dict) else None
    if not isinstance(block, dict):
        return None, None
    temperature, threshold = block.get("temperature"), block.get("threshold")
    ok_t = isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and math.isfinite(temperature) \
        and temperature > 0
    ok_th = isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and 0.0 <= threshold <= 1.0
    return (float(temperature), float(threshold)) if ok_t and ok_th else (None, None)
