"""The spectral profile layer: power lands in the rings it should, blur lowers the high ones, and it saves."""
from __future__ import annotations

import keras
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from deepfake_zoo.zoo.spectral import SpectralProfile, radial_bins

SIZE, BINS = 32, 16


def profile(images: np.ndarray, bins: int = BINS) -> np.ndarray:
    return np.asarray(SpectralProfile(bins)(np.asarray(images, dtype=np.float32)))


def test_a_constant_image_has_its_power_in_bin_zero():
    out = profile(np.full((1, SIZE, SIZE, 3), 128.0))[0]
    assert out.argmax() == 0 and out[0] - out[1:].max() > 3  # in standard units over the bins


def test_a_pixel_checkerboard_puts_its_power_in_the_top_bin():
    board = (np.indices((SIZE, SIZE)).sum(axis=0) % 2) * 255.0
    out = profile(np.repeat(board[None, :, :, None], 3, axis=-1))[0]
    assert out[1:].argmax() == BINS - 2  # the last bin: nothing but DC lies below it
    assert out[-1] - np.median(out) > 2  # in standard units: two bins (DC and the top) share the power


def test_blurring_lowers_the_top_bins():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (SIZE, SIZE, 3))
    blurred = gaussian_filter(image, sigma=(1.5, 1.5, 0))
    sharp_out, blur_out = profile(np.stack([image, blurred]))
    top = slice(BINS * 3 // 4, BINS)
    assert blur_out[top].mean() < sharp_out[top].mean() - 1


def test_the_profile_ignores_contrast_and_brightness_scale():
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 127, (1, SIZE, SIZE, 3))
    np.testing.assert_allclose(profile(image), profile(image * 2.0), atol=1e-3)


def test_every_bin_is_defined_even_when_finer_than_the_frequency_grid():
    weights = radial_bins(8, 8, 32)
    assert weights.shape == (64, 32) and np.all(weights.sum(axis=0) > 0.99)


def test_batch_output_shape_and_a_keras_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 3))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(SpectralProfile(BINS)(inputs)))
    images = np.random.default_rng(2).uniform(0, 255, (5, SIZE, SIZE, 3)).astype(np.float32)
    assert SpectralProfile(BINS)(images).shape == (5, BINS)
    model.save(tmp_path / "spectral.keras")
    loaded = keras.saving.load_model(tmp_path / "spectral.keras")
    assert isinstance(loaded.layers[1], SpectralProfile) and loaded.layers[1].bins == BINS
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), rtol=1e-6)


def test_rejects_images_without_a_fixed_size():
    with pytest.raises(ValueError, match="fixed size"):
        SpectralProfile(BINS).build((None, None, None, 3))


def test_an_entry_with_spectral_bins_feeds_the_head_the_spectrum_beside_its_features():
    from deepfake_zoo import zoo

    plain = zoo.get_model("mobilenet_v2_frozen").build_feature_extractor(image_size=32, weights="none")
    entry = zoo.get_model("mobilenet_v2_spectral_frozen")
    joined = entry.build_feature_extractor(image_size=32, weights="none")
    assert joined.output_shape[-1] == plain.output_shape[-1] + entry.spectral_bins == plain.output_shape[-1] + 32
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    expected = SpectralProfile(32)(images)
    np.testing.assert_allclose(np.asarray(joined(images))[:, -32:], np.asarray(expected), rtol=1e-4, atol=1e-5)


def test_the_search_may_switch_the_spectral_branch_off_and_the_head_then_ignores_it(tmp_path):
    from deepfake_zoo import zoo
    from deepfake_zoo.zoo.search_space import Categorical

    entry = zoo.get_model("mobilenet_v2_spectral_frozen")
    assert entry.search_space["spectral"] == Categorical((True, False), default=True)
    assert "spectral" not in zoo.get_model("mobilenet_v2_frozen").search_space
    rng = np.random.default_rng(0)
    features = rng.normal(size=(4, 64 + 32)).astype("float32")
    moved = features.copy()
    moved[:, -32:] = rng.normal(size=(4, 32)) * 5  # only the spectrum changes
    keras.utils.set_random_seed(0)
    heads = {on: entry.build_head(features.shape[1], {"spectral": on, "head_units": 16}) for on in (True, False)}
    off = heads[False]
    np.testing.assert_allclose(np.asarray(off(features)), np.asarray(off(moved)), atol=1e-6)
    assert np.abs(np.asarray(heads[True](features)) - np.asarray(heads[True](moved))).max() > 1e-4
    off.save(tmp_path / "head.keras")
    loaded = keras.saving.load_model(tmp_path / "head.keras")
    np.testing.assert_allclose(np.asarray(loaded(moved)), np.asarray(off(features)), atol=1e-6)
