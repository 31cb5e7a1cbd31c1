"""Robustness: each perturbation changes images as specified, and robustness.json is computed once per model file."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from deepfake_zoo.datasets.manifest import load_manifest
from deepfake_zoo.search import robustness
from deepfake_zoo.search.robustness import PERTURBATIONS, jpeg_bytes, perturb, psnr, run_robustness


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A 96 px seeded image with both smooth areas and fine detail (a gradient, edges and texture), uint8 RGB."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:96, 0:96] / 96.0
    base = np.stack([200 * x, 180 * y, 120 + 60 * np.sin(12 * x)], axis=-1)
    base[30:60, 20:70] = (230, 80, 40)
    texture = ndimage.gaussian_filter(rng.normal(0, 40, (96, 96, 3)), (0.7, 0.7, 0))
    return np.clip(base + texture, 0, 255).astype(np.uint8)


def high_frequency_energy(image: np.ndarray) -> float:
    """Energy of the Laplacian: what blur removes."""
    gray = image.astype(np.float64).mean(axis=-1)
    return float(np.mean(ndimage.laplace(gray) ** 2))


def test_jpeg_quality_30_is_smaller_and_further_from_the_original_than_90(photo):
    assert len(jpeg_bytes(photo, 30)) < len(jpeg_bytes(photo, 90))
    assert psnr(photo, perturb(photo, "jpeg", 30)) < psnr(photo, perturb(photo, "jpeg", 90))
    # Each setting gives the same pixels as a plain PIL save/load at that quality.
    reference = np.asarray(Image.open(io.BytesIO(jpeg_bytes(photo, 70))))
    assert np.array_equal(perturb(photo, "jpeg", 70), reference)


def test_stronger_blur_removes_more_high_frequency_energy(photo):
    energy = [high_frequency_energy(perturb(photo, "blur", sigma)) for sigma in (1, 2, 3)]
    assert high_frequency_energy(photo) > energy[0] > energy[1] > energy[2]
    # Blur keeps the mean colour (reflected edges, normalised kernel) up to rounding.
    assert np.abs(perturb(photo, "blur", 3).astype(float).mean((0, 1)) - photo.astype(float).mean((0, 1))).max() < 2


def test_downscale_keeps_the_size_and_a_quarter_loses_more_than_a_half(photo):
    half, quarter = perturb(photo, "downscale", 0.5), perturb(photo, "downscale", 0.25)
    assert half.shape == quarter.shape == photo.shape
    assert psnr(photo, quarter) < psnr(photo, half) < float("inf")
    assert high_frequency_energy(quarter) < high_frequency_energy(half) < high_frequency_energy(photo)


def test_noise_is_seeded_reproducible_and_has_the_asked_sigma(photo):
    flat = np.full((128, 128, 3), 128.0, np.float32)  # no clipping, so the added noise is measured exactly
    a, b, other = perturb(flat, "noise", 10, seed=[0, 7]), perturb(flat, "noise", 10, seed=[0, 7]), \
        perturb(flat, "noise", 10, seed=[0, 8])
    assert np.array_equal(a, b) and not np.array_equal(a, other)
    assert a.dtype == np.float32
    assert np.std(a - flat) == pytest.approx(10, rel=0.05)
    assert np.std(perturb(flat, "noise", 5, seed=1) - flat) == pytest.approx(5, rel=0.05)
    noisy = perturb(photo, "noise", 5, seed=3)
    assert noisy.dtype == np.uint8 and np.array_equal(noisy, perturb(photo, "noise", 5, seed=3))


def test_every_setting_keeps_shape_dtype_and_range(photo):
    as_float = photo.astype(np.float32)
    for kind, severity in robustness.settings():
        for image in (photo, as_float):
            out = perturb(image, kind, severity, seed=0)
            assert out.shape == image.shape
            assert out.dtype == (np.uint8 if image.dtype == np.uint8 else np.float32)
            assert out.min() >= 0 and out.max() <= 255
            assert not np.array_equal(out.astype(np.float32), as_float), (kind, severity)
    with pytest.raises(ValueError, match="unknown perturbation 'rain'"):
        perturb(photo, "rain", 1)


def tiny_model(seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Rescaling(1 / 255),
                             keras.layers.Conv2D(4, 3, strides=2, activation="relu"),
                             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")])


@pytest.mark.slow
def test_robustness_json_is_written_once_and_reused_while_the_model_file_is_unchanged(tmp_path, demo_manifest):
    frame = load_manifest(demo_manifest)
    run_dir = tmp_path / "runs" / "tiny"
    run_dir.mkdir(parents=True)
    model = tiny_model(0)
    model.save(run_dir / "model.keras")
    calls = []

    def loader():
        calls.append(1)
        return model

    report = run_robustness(run_dir, frame, loader, 32, threshold=0.5, limit=8, seed=0)

    assert calls == [1]
    stored = json.loads((run_dir / "robustness.json").read_text())
    assert stored == report
    assert (report["n"], report["n_real"] + report["n_fake"]) == (8, 8) and report["n_real"] and report["n_fake"]
    assert set(report["perturbations"]) == set(PERTURBATIONS)
    for kind, (parameter, levels) in PERTURBATIONS.items():
        curve = report["perturbations"][kind]
        assert (curve["parameter"], curve["levels"]) == (parameter, list(levels))
        assert len(curve["roc_auc"]) == len(curve["accuracy"]) == len(levels)
        assert all(0.0 <= value <= 1.0 for value in curve["roc_auc"] + curve["accuracy"])
    assert set(report["clean"]) == {"roc_auc", "accuracy"}

    # Same model file, rows and seed: the stored result comes back without loading the model.
    assert run_robustness(run_dir, frame, loader, 32, threshold=0.5, limit=8, seed=0) == report
    assert calls == [1]
    # Another sample of rows, or a changed model file, is recomputed.
    run_robustness(run_dir, frame, loader, 32, threshold=0.5, limit=6, seed=0)
    assert calls == [1, 1]
    tiny_model(1).save(run_dir / "model.keras")
    again = run_robustness(run_dir, frame, loader, 32, threshold=0.5, limit=6, seed=0)
    assert calls == [1, 1, 1] and again["key"]["model_sha256"] != report["key"]["model_sha256"]


@pytest.mark.slow
def test_scores_do_not_depend_on_batch_size_and_match_the_clean_pipeline(demo_manifest):
    from deepfake_zoo.datasets.images import load_for_model

    rows = robustness.select_test_rows(load_manifest(demo_manifest), limit=6, seed=0)
    model = tiny_model(0)
    small = robustness.perturbed_scores(model, rows, 32, seed=0, batch_size=2)
    large = robustness.perturbed_scores(model, rows, 32, seed=0, batch_size=32)
    for name in small:
        np.testing.assert_allclose(small[name], large[name], atol=1e-6)
    clean = model.predict(np.stack([load_for_model(p, 32) for p in rows["path"]]), verbose=0)[:, 0]
    np.testing.assert_allclose(small["clean"], clean, atol=1e-5)
    assert len(small) == 1 + len(robustness.settings())


def test_test_rows_sample_is_seeded_and_keeps_both_labels(demo_manifest):
    frame = load_manifest(demo_manifest)
    sample = robustness.select_test_rows(frame, limit=4, seed=0)
    assert len(sample) == 4 and set(sample["label"]) == {0, 1} and set(sample["split"]) == {"test"}
    assert sample.equals(robustness.select_test_rows(frame, limit=4, seed=0))
    assert len(robustness.select_test_rows(frame)) == int((frame["split"] == "test").sum())
