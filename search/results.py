"""Write a model's results folder (runs/<model>/) in the format docs/design.md fixes; every file lands atomically."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepfake_zoo.atomic import write_text
from deepfake_zoo.search.calibration import apply_temperature, calibration_block
from deepfake_zoo.search.metrics import binary_metrics, choose_threshold, evaluate_predictions


TRIAL_STATES = {"complete": "COMPLETE", "pruned": "PRUNED", "failed": "FAIL"}


@dataclass
class TrialRecord:
    """One finished (or pruned, or failed) trial, engine-neutral so Optuna and Keras Tuner write the same files."""

    number: int
    state: str  # an Optuna TrialState name: COMPLETE, PRUNED, FAIL
    value: float | None
    duration_s: float | None
    params: dict[str, Any]
    intermediate: list[float] = field(default_factory=list)


def json_safe(value):
    """JSON has no NaN or numpy scalars: map them to None / Python numbers."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, payload: Any) -> None:
    write_text(path, json.dumps(json_safe(payload), indent=2, sort_keys=False) + "\n")


def predictions_frame(frame: pd.DataFrame, scores: np.ndarray, threshold: float) -> pd.DataFrame:
    out = frame[["path", "source", "label"]].copy()
    out["label"] = out["label"].astype(int)
    out["prob_fake"] = np.asarray(scores, dtype=float)
    out["pred"] = (out["prob_fake"] >= threshold).astype(int)
    return out


def holdout_block(frame: pd.DataFrame, scores: np.ndarray, calibration: dict) -> tuple[dict, pd.DataFrame]:
    """Per held-out source, binary_metrics of the calibrated P(fake) at the calibrated validation threshold (the one
    predict serves), and the predictions frame (prob_fake calibrated, prob_fake_raw beside it)."""
    temperature, threshold = calibration["temperature"], calibration["threshold"]
    calibrated = apply_temperature(scores, temperature)
    pred = predictions_frame(frame, calibrated, threshold)
    pred["prob_fake_raw"] = np.asarray(scores, dtype=float)
    pred["split"] = frame["split"].to_numpy()
    block = {str(source): {**binary_metrics(part["label"], part["prob_fake"], threshold),
                           "threshold": threshold, "temperature": temperature}
             for source, part in pred.groupby("source", sort=True)}
    return block, pred


def trials_frame(trials: list[TrialRecord]) -> pd.DataFrame:
    names = sorted({k for t in trials for k in t.params})
    rows = []
    for t in trials:
        row = {"number": t.number, "state": t.state, "value": t.value, "duration_s": t.duration_s}
        row.update({f"params_{k}": t.params.get(k) for k in names})
        row["intermediate"] = json.dumps(json_safe(list(t.intermediate)))
        rows.append(row)
    return pd.DataFrame(rows, columns=["number", "state", "value", "duration_s", *[f"params_{k}" for k in names],
                                       "intermediate"])


def write_results(run_dir: Path, *, info: dict, val_frame: pd.DataFrame, val_scores: np.ndarray,
                  test_frame: pd.DataFrame, test_scores: np.ndarray, trials: list[TrialRecord],
                  importances: dict, history: dict,
                  holdout: tuple[pd.DataFrame, np.ndarray] | None = None) -> dict:
    """Choose the threshold on validation, score test once with it, and write every result file; returns metrics.

    `holdout` (rows of held-out sources, their raw scores) adds a `holdout` block per source, scored with the
    validation temperature and the calibrated threshold, and holdout_predictions.csv."""
    threshold = choose_threshold(val_frame["label"].to_numpy(), val_scores)
    val_pred = predictions_frame(val_frame, val_scores, threshold)
    test_pred = predictions_frame(test_frame, test_scores, threshold)
    test_metrics = evaluate_predictions(test_pred, threshold)
    validation = binary_metrics(val_pred["label"], val_pred["prob_fake"], threshold)
    # Optuna's state names (TrialState.name): COMPLETE, PRUNED and FAIL, not FAILED.
    calibration = calibration_block(val_frame["label"].to_numpy(), val_scores, test_frame["label"].to_numpy(),
                                    test_scores)
    counts = {key: sum(t.state == state for t in trials) for key, state in TRIAL_STATES.items()}
    metrics = {
        **info,
        "accuracy": test_metrics["accuracy"],
        "roc_auc": test_metrics["roc_auc"],
        "eer": test_metrics["eer"],
        "average_precision": test_metrics["average_precision"],
        "f1": test_metrics["f1"],
        "threshold": threshold,
        "confusion_matrix": test_metrics["confusion_matrix"],
        "n_test": test_metrics["n"],
        "per_source": test_metrics["per_source"],
        "validation": validation,
        # Temperature scaling fitted on validation only; predict and evaluate serve the calibrated P(fake).
        **calibration,
        "ece": calibration["calibration"]["ece_after"],
        "brier": calibration["calibration"]["brier_after"],
        "trials": counts,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if holdout is not None:
        held_frame, held_scores = holdout
        block, held_pred = holdout_block(held_frame, held_scores, calibration["calibration"])
        metrics["holdout"] = block
        write_text(run_dir / "holdout_predictions.csv", held_pred.to_csv(index=False))
    write_text(run_dir / "predictions.csv", test_pred.to_csv(index=False))
    write_text(run_dir / "val_predictions.csv", val_pred.to_csv(index=False))
    write_text(run_dir / "trials.csv", trials_frame(trials).to_csv(index=False))
    write_json(run_dir / "importances.json", importances)
    write_json(run_dir / "history.json", history)
    # metrics.json last: its presence is what marks a results folder complete for the leaderboard and predict.
    write_json(run_dir / "metrics.json", metrics)
    return metrics
