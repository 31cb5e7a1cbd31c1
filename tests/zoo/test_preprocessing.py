"""BackbonePreprocess: each mode's exact numbers, and that it serializes by itself."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from deepfake_zoo import zoo
from deepfake_zoo.zoo.preprocessing import MODES, BackbonePreprocess

# One pixel per row: black, white, pure red, pure blue.
PIXELS = np.array([[[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 0, 255]]]], "float32")


def _apply(mode):
    return keras.ops.convert_to_numpy(BackbonePreprocess(mode)(PIXELS))[0, 0]


def test_tf_mode_maps_to_minus_one_one():
    np.testing.assert_allclose(_apply("tf")[:2], [[-1, -1, -1], [1, 1, 1]], atol=1e-6)


def test_caffe_mode_is_bgr_minus_imagenet_mean():
    mean_bgr = np.array([103.939, 116.779, 123.68])
    out = _apply("caffe")
    np.testing.assert_allclose(out[0], -mean_bgr, atol=1e-3)
    np.testing.assert_allclose(out[2], [0 - 103.939, 0 - 116.779, 255 - 123.68], atol=1e-3)  # red lands last
    np.testing.assert_allclose(out[3], [255 - 103.939, 0 - 116.779, 0 - 123.68], atol=1e-3)  # blue lands first


def test_torch_mode_standardises_with_imagenet_statistics():
    out = _apply("torch")
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(out[1], (1 - mean) / std, rtol=1e-5)


def test_raw_and_unit_modes():
    np.testing.assert_array_equal(_apply("raw"), PIXELS[0, 0])
    np.testing.assert_allclose(_apply("unit"), PIXELS[0, 0] / 255.0, atol=1e-7)


def test_unknown_mode_names_the_choices():
    with pytest.raises(ValueError, match="use one of tf, caffe"):
        BackbonePreprocess("bgr")


@pytest.mark.parametrize("mode", list(MODES))
def test_round_trips_through_a_saved_model(mode, tmp_path):
    inputs = keras.Input((1, 4, 3))
    model = keras.Model(inputs, BackbonePreprocess(mode, name="preprocess")(inputs))
    model.save(tmp_path / "pre.keras")
    loaded = keras.saving.load_model(tmp_path / "pre.keras")
    assert loaded.get_layer("preprocess").mode == mode
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(PIXELS))[0, 0], _apply(mode), atol=1e-5)


def test_every_entry_uses_a_known_mode():
    assert {zoo.get_model(name).preprocessing for name in zoo.list_models()} <= set(MODES)
