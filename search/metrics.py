"""Detection metrics as DeepfakeBench reports them: accuracy, ROC AUC, EER, average precision, F1, confusion matrix."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from deepfake_zoo.runfiles import equal_error_point


def _has_both_classes(labels: np.ndarray) -> bool:
    return len(np.unique(labels)) == 2


def equal_error_rate(labels: np.ndarray, scores: np.ndarray) -> float:
    """The error rate where the false-positive and false-negative rates cross (interpolated on the ROC curve).

    The rule is `deepfake_zoo.runfiles.equal_error_point`, which the leaderboard's ROC plot marks too.
    """
    fpr, tpr, _ = skm.roc_curve(labels, scores)
    return equal_error_point(fpr, tpr).rate


def choose_threshold(labels, scores) -> float:
    """The P(fake) cut that maximises balanced accuracy on validation (Youden's J), so class balance cannot skew it."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=float)
    if not _has_both_classes(labels):
        return 0.5
    fpr, tpr, thresholds = skm.roc_curve(labels, scores)
    i = int(np.argmax(tpr - fpr))
    # roc_curve's first threshold is +inf; the cut predicting nothing fake is never the useful one.
    return float(np.clip(thresholds[i], 0.0, 1.0)) if np.isfinite(thresholds[i]) else 0.5


def binary_metrics(labels, scores, threshold: float) -> dict:
    """All headline metrics for one set of predictions; threshold-free ones are None when a class is missing."""
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=float)
    preds = (scores >= threshold).astype(int)
    both = _has_both_classes(labels)
    cm = skm.confusion_matrix(labels, preds, labels=[0, 1])
    return {
        "accuracy": float(skm.accuracy_score(labels, preds)),
        "roc_auc": float(skm.roc_auc_score(labels, scores)) if both else None,
        "eer": equal_error_rate(labels, scores) if both else None,
        "average_precision": float(skm.average_precision_score(labels, scores)) if both else None,
        "f1": float(skm.f1_score(labels, preds, zero_division=0)),
        "confusion_matrix": cm.astype(int).tolist(),
        "n": int(len(labels)),
    }


def evaluate_predictions(frame: pd.DataFrame, threshold: float) -> dict:
    """Overall metrics plus the same per source dataset, from a predictions frame (label, prob_fake, source)."""
    overall = binary_metrics(frame["label"], frame["prob_fake"], threshold)
    per_source = {
        str(source): binary_metrics(part["label"], part["prob_fake"], threshold)
        for source, part in frame.groupby("source", sort=True)
    }
    return {**overall, "per_source": per_source}

