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
             weights: str = "imagenet", synthetic: bool = False, n_trials: int = 6, calibration: bool = False,
             holdout: dict[str, dict] | None = None) -> dict:
    """Write one complete run folder; larger `separation` means a better model. Returns its metrics dict.

    `calibration` adds the calibration block (and ece/brier) search writes; `holdout` the held-out sources' scores
    of a cross-source run ({source: metrics})."""
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
    if calibration:
        metrics.update(calibration_block(val, test))
    if holdout is not None:
        metrics["holdout"] = holdout
        metrics["holdout_sources"] = sorted(holdout)
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


def _bins(labels: np.ndarray, probs: np.ndarray, bins: int = 15) -> list[dict]:
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(probs, edges[1:-1]), 0, bins - 1)
    return [{"lower": float(edges[i]), "upper": float(edges[i + 1]), "n": int((index == i).sum()),
             "mean_prob": float(probs[index == i].mean()) if (index == i).any() else None,
             "fraction_fake": float(labels[index == i].mean()) if (index == i).any() else None} for i in range(bins)]


def _ece(labels: np.ndarray, probs: np.ndarray) -> float:
    return float(sum(b["n"] * abs(b["mean_prob"] - b["fraction_fake"]) for b in _bins(labels, probs) if b["n"])
                 / len(labels))


def calibration_block(val: pd.DataFrame, test: pd.DataFrame, temperature: float = 1.7) -> dict:
    """The metrics.json calibration block as search/calibration.py writes it (temperature fixed, not fitted)."""
    y, p = test["label"].to_numpy(), test["prob_fake"].to_numpy()
    logit = np.log(np.clip(p, 1e-7, 1 - 1e-7) / (1 - np.clip(p, 1e-7, 1 - 1e-7)))
    scaled = 1 / (1 + np.exp(-logit / temperature))
    block = {"temperature": temperature, "threshold": 0.5, "ece_before": _ece(y, p), "ece_after": _ece(y, scaled),
             "brier_before": float(np.mean((p - y) ** 2)), "brier_after": float(np.mean((scaled - y) ** 2)),
             "bins": 15, "n_validation": len(val), "n_test": len(test),
             "reliability_before": _bins(y, p), "reliability_after": _bins(y, scaled)}
    return {"calibration": block, "ece": block["ece_before"], "brier": block["brier_before"]}


def write_external(run_folder: Path, name: str, roc_auc: float | None, n: int, accuracy: float = 0.6) -> dict:
    """runs/<model>/external/<name>/metrics.json as `deepfake-zoo evaluate` writes it."""
    metrics = {"name": name, "model": run_folder.name, "accuracy": accuracy, "roc_auc": roc_auc, "eer": 0.4,
               "average_precision": 0.6, "f1": 0.55, "confusion_matrix": [[n // 4, n // 4], [n // 4, n - 3 * (n // 4)]],
               "n": n, "per_source": {}, "n_real": n // 2, "n_fake": n - n // 2, "ece": 0.2, "brier": 0.24,
               "threshold": 0.5, "threshold_from": "validation", "temperature": None, "image_size": 32,
               "skips": {"unreadable": 1}, "n_skipped": 1, "skip_examples": {"unreadable": ["/x/broken.jpg"]},
               "data": {"path": f"/data/{name}", "kind": "real-fake folders", "listed": n + 1}}
    folder = run_folder / "external" / name
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


ROBUSTNESS_LEVELS = {"jpeg": ("quality", [90, 70, 50, 30]), "blur": ("sigma", [1, 2, 3]),
                     "downscale": ("factor", [0.5, 0.25]), "noise": ("sigma", [5, 10])}


def write_robustness(run_folder: Path, clean_auc: float, n: int, drop: float = 0.05) -> dict:
    """runs/<model>/robustness.json as search/robustness.py writes it: AUC falls by `drop` per severity step."""
    report = {"model": run_folder.name, "split": "test", "n": n, "n_fake": n // 2, "n_real": n - n // 2,
              "clean": {"roc_auc": clean_auc, "accuracy": clean_auc - 0.05}, "perturbations": {
                  kind: {"parameter": parameter, "levels": levels,
                         "roc_auc": [round(clean_auc - drop * (i + 1), 4) for i in range(len(levels))],
                         "accuracy": [round(clean_auc - 0.05 - drop * (i + 1), 4) for i in range(len(levels))]}
                  for kind, (parameter, levels) in ROBUSTNESS_LEVELS.items()}}
    (run_folder / "robustness.json").write_text(json.dumps(report, indent=2))
    return report


def write_cost(run_folder: Path, latency_ms: float) -> dict:
    """runs/<model>/cost.json as search/cost.py writes it."""
    cost = {"model": run_folder.name, "latency_ms_per_image": latency_ms, "latency_ms_p90": latency_ms * 1.2,
            "throughput_images_per_s": 32_000 / latency_ms / 8, "params_total": 2_257_984,
            "model_file_bytes": 9_000_000, "image_size": 32, "batch_size": 32, "repeats": 50, "warmup": 5,
            "batches": 10, "device": "cpu", "cpu_count": 2, "machine": "x86_64", "tensorflow": "2.17"}
    (run_folder / "cost.json").write_text(json.dumps(cost, indent=2))
    return cost


def write_fixture_runs(runs: Path) -> dict[str, dict]:
    """Three models of clearly different quality (one named to attack the page) plus one broken run folder;
    returns {model name: its metrics.json}."""
    metrics = {
        "mobilenet_v2_frozen": make_run(runs, "mobilenet_v2_frozen", 2.0, seed=1),
        "cnn": make_run(runs, "cnn", 0.9, seed=2, weights="none", train_sources=("deepfake-faces",), n_test=50),
        EVIL_NAME: make_run(runs, EVIL_NAME, 0.3, seed=3, folder="evil", synthetic=True, weights="none",
                            eval_sources=("deepfake-faces", EVIL_SOURCE), train_sources=(EVIL_SOURCE,)),
    }
    # The best model was also scored on outside data, measured for robustness and cost, and calibrated; cnn is
    # cheaper but worse (both on the Pareto front); the hostile-named run has none of the new files.
    metrics["mobilenet_v2_frozen"].update(calibration_block_for(runs / "mobilenet_v2_frozen"))
    write_external(runs / "mobilenet_v2_frozen", "gan-faces", 0.55, 80)
    write_robustness(runs / "mobilenet_v2_frozen", metrics["mobilenet_v2_frozen"]["roc_auc"], 60)
    write_robustness(runs / "cnn", metrics["cnn"]["roc_auc"], 50, drop=0.02)
    write_cost(runs / "mobilenet_v2_frozen", 12.0)
    write_cost(runs / "cnn", 1.5)
    broken = runs / "broken"
    broken.mkdir()
    (broken / "metrics.json").write_text("{ not json")
    return metrics


def calibration_block_for(folder: Path) -> dict:
    """Add the calibration block to an existing fixture run's metrics.json (from its own predictions)."""
    metrics = json.loads((folder / "metrics.json").read_text())
    block = calibration_block(pd.read_csv(folder / "val_predictions.csv"), pd.read_csv(folder / "predictions.csv"))
    metrics.update(block)
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return block


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
