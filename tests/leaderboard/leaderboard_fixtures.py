"""Fixture result folders for the leaderboard tests: seeded predictions of different quality and every runs/<model>/
file written exactly as docs/design.md describes, with metrics.json computed from the predictions by sklearn."""
from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import (accuracy_score, average_precision_score, confusion_matrix, f1_score, roc_auc_score,
                             roc_curve)

EVIL_NAME = "<img src=x onerror=alert(1)>"
EVIL_SOURCE = "<script>alert('src')</script>"


def _eer(labels: np.ndarray, scores: np.ndarray) -> float:
    fpr, tpr, _ = roc_curve(labels, scores)
    i = int(np.nanargmin(np.abs(fpr - (1 - tpr))))
    return float((fpr[i] + 1 - tpr[i]) / 2)


def _scores(frame: pd.DataFrame) -> dict:
    y, p, pred = frame["label"].to_numpy(), frame["prob_fake"].to_numpy(), frame["pred"].to_numpy()
    return {"accuracy": float(accuracy_score(y, pred)), "roc_auc": float(roc_auc_score(y, p)), "eer": _eer(y, p),
            "average_precision": float(average_precision_score(y, p)), "f1": float(f1_score(y, pred)),
            "confusion_matrix": confusion_matrix(y, pred, labels=[0, 1]).tolist(), "n": int(len(frame))}


def _predictions(rng: np.random.Generator, n: int, separation: float, sources: list[str]) -> pd.DataFrame:
    labels = np.tile([0, 1], n // 2 + 1)[:n]
    logits = separation * (2 * labels - 1) + rng.normal(0.0, 1.0, n)
    return pd.DataFrame({"path": [f"/data/img_{i:04d}.jpg" for i in range(n)],
                         "source": [sources[(i // 2) % len(sources)] for i in range(n)],
                         "label": labels, "prob_fake": 1 / (1 + np.exp(-logits))})


def make_run(runs_dir: Path, model: str, separation: float, seed: int, *, folder: str | None = None,
             eval_sources: tuple[str, ...] = ("deepfake-faces", "real-and-fake-face"),
             train_sources: tuple[str, ...] = ("deepfake-faces", "real-and-fake-face"), n_test: int = 60,
             weights: str = "imagenet", synthetic: bool = False, n_trials: int = 6) -> dict:
    """Write one complete run folder; larger `separation` means a better model. Returns its metrics dict."""
    rng = np.random.default_rng(seed)
    out = runs_dir / (folder or model)
    out.mkdir(parents=True)
    val = _predictions(rng, 40, separation, list(eval_sources))
    # As the search does: pick the threshold on validation (Youden's J), then apply it to test once.
    fpr, tpr, thr = roc_curve(val["label"], val["prob_fake"])
    threshold = float(np.clip(thr[int(np.argmax(tpr - fpr))], 0.0, 1.0))
    test = _predictions(rng, n_test, separation, list(eval_sources))
    for frame in (val, test):
        frame["pred"] = (frame["prob_fake"] >= threshold).astype(int)
    test_scores = _scores(test)
    metrics = {
        "model": model, "family": "mobilenet" if weights == "imagenet" else "cnn", "frozen": weights == "imagenet",
        "image_size": 32, "weights": weights, "params_total": 2_257_984 + seed, "params_trainable": 1_281 + seed,
        **{k: v for k, v in test_scores.items() if k != "n"}, "threshold": threshold, "n_test": test_scores["n"],
        "per_source": {s: _scores(test[test["source"] == s]) for s in eval_sources},
        "validation": {k: v for k, v in _scores(val).items() if k != "confusion_matrix"},
        "objective": "val_roc_auc", "best_value": _scores(val)["roc_auc"],
        "best_params": {"learning_rate": float(10 ** -rng.uniform(2, 4)), "head_units": int(rng.choice([64, 128])),
                        "optimizer": "adam"},
        "trials": {"complete": n_trials - 2, "pruned": 2, "failed": 0},
        "wall_time_s": float(60 + 100 * seed), "inference_images_per_s": float(40 + 7 * seed),
        "engine": "optuna", "study_name": model, "seed": seed, "epochs": 3,
        "train_sources": list(train_sources), "manifest_sha256": "0" * 64, "data_is_synthetic": synthetic,
        "created": "2026-11-25T10:00:00Z",
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    test.to_csv(out / "predictions.csv", index=False)
    val.to_csv(out / "val_predictions.csv", index=False)
    trials = []
    for number in range(n_trials):
        state = "PRUNED" if number in (1, 3) else "COMPLETE"
        curve = list(np.clip(0.5 + np.cumsum(rng.uniform(0, 0.1, 1 if state == "PRUNED" else 3)), 0, 1))
        trials.append({"number": number, "state": state, "value": curve[-1] if state == "COMPLETE" else None,
                       "duration_s": float(rng.uniform(5, 20)), "params_learning_rate": float(rng.uniform(1e-4, 1e-2)),
                       "params_head_units": int(rng.choice([64, 128])), "intermediate": json.dumps(curve)})
    pd.DataFrame(trials).to_csv(out / "trials.csv", index=False)
    (out / "importances.json").write_text(json.dumps({"learning_rate": 0.7, "head_units": 0.3}))
    (out / "history.json").write_text(json.dumps({"loss": [0.69, 0.6, 0.52], "val_loss": [0.7, 0.64, 0.6],
                                                  "val_roc_auc": [0.6, 0.7, 0.75]}))
    return metrics


def write_fixture_runs(runs: Path) -> dict[str, dict]:
    """Three models of clearly different quality (one named to attack the page) plus one broken run folder;
    returns {model name: its metrics.json}."""
    metrics = {
        "mobilenet_v2_frozen": make_run(runs, "mobilenet_v2_frozen", 2.0, seed=1),
        "cnn": make_run(runs, "cnn", 0.9, seed=2, weights="none", train_sources=("deepfake-faces",), n_test=50),
        EVIL_NAME: make_run(runs, EVIL_NAME, 0.3, seed=3, folder="evil", synthetic=True, weights="none",
                            eval_sources=("deepfake-faces", EVIL_SOURCE), train_sources=(EVIL_SOURCE,)),
    }
    broken = runs / "broken"
    broken.mkdir()
    (broken / "metrics.json").write_text("{ not json")
    return metrics


class PageParser(HTMLParser):
    """Collects the ranking table (cell data-key -> data-sort per row), element ids and visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self.ids: list[str] = []
        self.text: list[str] = []
        self.tags: list[str] = []
        self._in_table = False
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if attrs.get("id"):
            self.ids.append(attrs["id"])
        if tag == "table" and attrs.get("id") == "leaderboard":
            self._in_table = True
        if tag == "script":
            self._in_script = True
        if self._in_table and tag == "tr" and "data-model" in attrs:
            self.rows.append({"__model__": attrs["data-model"]})
        if self._in_table and tag == "td" and self.rows:
            self.rows[-1][attrs["data-key"]] = attrs["data-sort"]

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_table = False
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if not self._in_script:
            self.text.append(data)


def parse_page(html_text: str) -> PageParser:
    parser = PageParser()
    parser.feed(html_text)
    return parser
