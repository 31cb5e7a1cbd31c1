"""The ensemble run: members chosen on validation, calibrated scores averaged, saved and scored like any run."""
from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from deepfake_zoo.search.calibration import apply_temperature, calibration_block
from deepfake_zoo.search.ensemble import build_ensemble, candidate_runs, choose_members
from deepfake_zoo.search.metrics import choose_threshold

SIZE = 16
N_ROWS = 40


def _rows(split: str, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = np.arange(N_ROWS) % 2
    return pd.DataFrame({"path": [f"{split}/img_{i:03d}.png" for i in range(N_ROWS)],
                         "source": np.where(np.arange(N_ROWS) < N_ROWS // 2, "demo", "other"),
                         "label": labels}), rng


def write_member(runs: Path, name: str, *, val_auc: float, test_auc: float, temperature: float | None = 1.0,
                 manifest: str = "m" * 64, image_size: int = SIZE, seed: int = 0, shuffle: bool = False,
                 **extra) -> Path:
    """runs/<name>/ as a search leaves it: a tiny seeded model, metrics.json with validation and calibration, and
    val/test prediction CSVs whose raw P(fake) leans towards the label (seeded)."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((image_size, image_size, 3)), keras.layers.Rescaling(1 / 255),
                              keras.layers.Conv2D(4, 3, strides=2, activation="relu"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")])
    run_dir = runs / name
    run_dir.mkdir(parents=True)
    model.save(run_dir / "model.keras")
    for split, filename, offset in (("val", "val_predictions.csv", 1), ("test", "predictions.csv", 2)):
        frame, rng = _rows(split, seed * 10 + offset)
        frame["prob_fake"] = np.clip(0.5 + 0.3 * (frame["label"] - 0.5) + rng.normal(0, 0.2, N_ROWS), 0.01, 0.99)
        frame["pred"] = (frame["prob_fake"] >= 0.5).astype(int)
        if shuffle:  # another member may list the same images in another order
            frame = frame.sample(frac=1.0, random_state=seed)
        frame.to_csv(run_dir / filename, index=False)
    metrics = {"model": name, "family": "tiny", "image_size": image_size, "threshold": 0.5, "roc_auc": test_auc,
               "accuracy": 0.5, "n_test": N_ROWS, "train_sources": ["demo"], "manifest_sha256": manifest,
               "validation": {"roc_auc": val_auc}, **extra}
    if temperature is not None:
        metrics["calibration"] = {"temperature": temperature, "threshold": 0.5}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    return run_dir


@pytest.fixture
def runs(tmp_path) -> Path:
    runs = tmp_path / "runs"
    write_member(runs, "alpha", val_auc=0.90, test_auc=0.80, temperature=2.0, seed=1)
    write_member(runs, "beta", val_auc=0.85, test_auc=0.81, temperature=0.5, seed=2, shuffle=True)
    write_member(runs, "gamma", val_auc=0.80, test_auc=0.82, temperature=None, seed=3)
    # The best on test but the worst on validation: choosing by test would take it.
    write_member(runs, "delta", val_auc=0.70, test_auc=0.99, temperature=1.5, seed=4)
    return runs


def _calibrated(runs: Path, name: str, filename: str, temperature: float | None) -> pd.Series:
    frame = pd.read_csv(runs / name / filename).set_index("path")
    scores = frame["prob_fake"].to_numpy(float)
    return pd.Series(scores if temperature is None else apply_temperature(scores, temperature), index=frame.index)


def test_members_are_chosen_on_validation_not_test(runs):
    chosen = [m.name for m in choose_members(runs, top_k=3)]
    assert chosen == ["alpha", "beta", "gamma"]
    assert "delta" not in chosen


def test_models_pattern_filters_candidates(runs):
    assert [m.name for m in candidate_runs(runs, pattern="*a")] == ["alpha", "beta", "gamma", "delta"]
    assert [m.name for m in choose_members(runs, top_k=2, pattern="[bd]*")] == ["beta", "delta"]


def test_ensemble_averages_calibrated_scores_and_thresholds_on_its_validation(runs):
    metrics = build_ensemble(runs, top_k=3, name="ens")
    out = runs / "ens"
    assert {p.name for p in out.iterdir()} >= {"model.keras", "metrics.json", "predictions.csv",
                                                "val_predictions.csv"}
    assert metrics["members"] == ["alpha", "beta", "gamma"] and metrics["family"] == "ensemble"
    assert json.loads((out / "metrics.json").read_text())["members"] == ["alpha", "beta", "gamma"]
    temps = {"alpha": 2.0, "beta": 0.5, "gamma": None}
    for filename in ("val_predictions.csv", "predictions.csv"):
        saved = pd.read_csv(out / filename).set_index("path")
        expected = sum(_calibrated(runs, n, filename, t) for n, t in temps.items()) / 3
        np.testing.assert_allclose(saved["prob_fake"].to_numpy(), expected.loc[saved.index].to_numpy(), atol=1e-9)
    val = pd.read_csv(out / "val_predictions.csv")
    test = pd.read_csv(out / "predictions.csv")
    assert metrics["threshold"] == pytest.approx(choose_threshold(val["label"].to_numpy(), val["prob_fake"].to_numpy()))
    block = calibration_block(val["label"], val["prob_fake"], test["label"], test["prob_fake"])["calibration"]
    assert metrics["calibration"]["temperature"] == pytest.approx(block["temperature"])
    assert metrics["calibration"]["threshold"] == pytest.approx(block["threshold"])
    for key in ("accuracy", "roc_auc", "eer", "average_precision", "f1", "confusion_matrix", "n_test", "per_source",
                "validation", "ece", "brier", "image_size", "params_total", "selection"):
        assert key in metrics, key
    assert metrics["n_test"] == N_ROWS and metrics["image_size"] == SIZE


def test_saved_model_is_the_mean_of_calibrated_members_and_predict_uses_it(runs):
    from deepfake_zoo.predict.models import load_model, read_run
    from deepfake_zoo.predict.scoring import Predictor

    build_ensemble(runs, top_k=3, name="ens")
    images = np.random.default_rng(0).uniform(0, 255, (5, SIZE, SIZE, 3)).astype("float32")
    members = []
    for name, temperature in (("alpha", 2.0), ("beta", 0.5), ("gamma", None)):
        raw = keras.saving.load_model(runs / name / "model.keras").predict(images, verbose=0)[:, 0]
        members.append(raw if temperature is None else apply_temperature(raw, temperature))
    expected = np.mean(members, axis=0)
    run = read_run(runs / "ens")
    out = load_model(run).predict(images, verbose=0)[:, 0]
    np.testing.assert_allclose(out, expected, atol=1e-5)
    # Predict treats it as any run: its own validation temperature on top, its own threshold.
    probs = Predictor(run).score_batch(images)
    np.testing.assert_allclose(probs, apply_temperature(expected, run.temperature), atol=1e-5)
    assert run.image_size == SIZE


def test_throughput_is_estimated_from_the_members_run_in_turn(tmp_path):
    runs = tmp_path / "runs"
    write_member(runs, "alpha", val_auc=0.9, test_auc=0.8, seed=1, inference_images_per_s=100.0)
    write_member(runs, "beta", val_auc=0.8, test_auc=0.8, seed=2, inference_images_per_s=300.0)
    assert build_ensemble(runs, top_k=2)["inference_images_per_s"] == pytest.approx(75.0)


def test_rebuilding_replaces_the_ensemble_and_never_includes_it(runs):
    build_ensemble(runs, top_k=2, name="ens")
    assert build_ensemble(runs, top_k=2, name="ens")["members"] == ["alpha", "beta"]
    assert "ens" not in [m.name for m in candidate_runs(runs)]


def test_refuses_members_on_different_manifests(tmp_path):
    runs = tmp_path / "runs"
    write_member(runs, "alpha", val_auc=0.9, test_auc=0.8, seed=1)
    write_member(runs, "beta", val_auc=0.8, test_auc=0.8, seed=2, manifest="x" * 64)
    with pytest.raises(ValueError, match="not scored on one manifest"):
        build_ensemble(runs, top_k=2)
    assert not (runs / "ensemble_top2").exists()


def test_members_of_different_sizes_each_get_their_own_size_from_the_largest_input(tmp_path):
    from deepfake_zoo.datasets.images import resize_for_model
    from deepfake_zoo.predict.models import load_model, read_run

    runs = tmp_path / "runs"
    write_member(runs, "small", val_auc=0.9, test_auc=0.8, temperature=2.0, seed=1, tta_flip=True)
    write_member(runs, "large", val_auc=0.8, test_auc=0.8, temperature=None, seed=2, image_size=2 * SIZE)
    metrics = build_ensemble(runs, top_k=2, name="ens")
    assert metrics["image_size"] == 2 * SIZE
    assert [(d["name"], d["image_size"], d["tta_flip"]) for d in metrics["member_details"]] == [
        ("small", SIZE, True), ("large", 2 * SIZE, False)]
    images = np.random.default_rng(0).uniform(0, 255, (4, 2 * SIZE, 2 * SIZE, 3)).astype("float32")
    # The small member sees what the training pipeline would have made of these images at its own size.
    shrunk = np.asarray(resize_for_model(images, SIZE))
    small = keras.saving.load_model(runs / "small" / "model.keras")
    small_prob = (small.predict(shrunk, verbose=0)[:, 0] + small.predict(shrunk[:, :, ::-1], verbose=0)[:, 0]) / 2
    large_prob = keras.saving.load_model(runs / "large" / "model.keras").predict(images, verbose=0)[:, 0]
    expected = (apply_temperature(small_prob, 2.0) + large_prob) / 2
    run = read_run(runs / "ens")
    assert run.image_size == 2 * SIZE
    np.testing.assert_allclose(load_model(run).predict(images, verbose=0)[:, 0], expected, atol=1e-4)


def test_refuses_a_member_without_an_image_size(tmp_path):
    runs = tmp_path / "runs"
    write_member(runs, "alpha", val_auc=0.9, test_auc=0.8, seed=1)
    write_member(runs, "beta", val_auc=0.8, test_auc=0.8, seed=2, image_size=SIZE)
    metrics = json.loads((runs / "beta" / "metrics.json").read_text())
    metrics["image_size"] = 0  # a number, so read_metrics lets it through
    (runs / "beta" / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(ValueError, match="beta/metrics.json has no positive integer image_size"):
        build_ensemble(runs, top_k=2)
    assert not (runs / "ensemble_top2").exists()


def test_refuses_fewer_runs_than_k_and_k_below_two(runs):
    with pytest.raises(ValueError, match="found 4"):
        build_ensemble(runs, top_k=5)
    for k in (1, 0):
        with pytest.raises(ValueError, match="at least 2"):
            build_ensemble(runs, top_k=k)
    assert not any(p.name.startswith("ensemble") for p in runs.iterdir())


def test_cli_builds_the_ensemble(runs, capsys):
    from deepfake_zoo.cli import main

    assert main(["ensemble", "--runs", str(runs), "--top-k", "2"]) == 0
    assert "alpha, beta" in capsys.readouterr().out
    assert json.loads((runs / "ensemble_top2" / "metrics.json").read_text())["members"] == ["alpha", "beta"]
    assert main(["ensemble", "--runs", str(runs), "--top-k", "1"]) == 2
    assert "at least 2" in capsys.readouterr().err


@pytest.mark.slow
def test_ensemble_of_two_searched_runs_reproduces_its_scores_from_images(config_for):
    """End to end on what a real search writes: the ensemble model, fed the test images as predict feeds them,
    gives the prob_fake its predictions.csv holds (so the CSV arithmetic and the saved model agree)."""
    from deepfake_zoo.datasets.images import load_for_model
    from deepfake_zoo.search.study import run_model_search

    for name in ("tiny_search_frozen", "tiny_search_finetune"):
        config = config_for(model=name, trials=1, epochs=1)
        run_model_search(name, config, log=lambda _: None)
    runs = config.runs_dir
    metrics = build_ensemble(runs, top_k=2, name="ens")
    assert sorted(metrics["members"]) == ["tiny_search_finetune", "tiny_search_frozen"]
    pred = pd.read_csv(runs / "ens" / "predictions.csv")
    assert len(pred) == metrics["n_test"] == len(pd.read_csv(runs / "tiny_search_frozen" / "predictions.csv"))
    model = keras.saving.load_model(runs / "ens" / "model.keras")
    images = np.stack([load_for_model(p, metrics["image_size"]) for p in pred["path"][:6]])
    assert model.predict(images, verbose=0).reshape(-1) == pytest.approx(pred["prob_fake"][:6], abs=2e-3)


def test_a_member_tested_with_tta_flip_is_fed_the_image_and_its_mirror(tmp_path):
    from deepfake_zoo.predict.models import load_model, read_run

    runs = tmp_path / "runs"
    write_member(runs, "flipped", val_auc=0.9, test_auc=0.8, temperature=2.0, seed=1, tta_flip=True)
    write_member(runs, "plain", val_auc=0.8, test_auc=0.8, temperature=None, seed=2)
    build_ensemble(runs, top_k=2, name="ens")
    images = np.random.default_rng(0).uniform(0, 255, (5, SIZE, SIZE, 3)).astype("float32")
    flipped = keras.saving.load_model(runs / "flipped" / "model.keras")
    both = (flipped.predict(images, verbose=0)[:, 0] + flipped.predict(images[:, :, ::-1, :], verbose=0)[:, 0]) / 2
    plain = keras.saving.load_model(runs / "plain" / "model.keras").predict(images, verbose=0)[:, 0]
    expected = (apply_temperature(both, 2.0) + plain) / 2
    out = load_model(read_run(runs / "ens")).predict(images, verbose=0)[:, 0]
    np.testing.assert_allclose(out, expected, atol=1e-5)
    single = (apply_temperature(flipped.predict(images, verbose=0)[:, 0], 2.0) + plain) / 2
    assert not np.allclose(out, single, atol=1e-4)
