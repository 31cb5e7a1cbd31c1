"""The zoo's own layers: what MeanStdPooling computes, that its gradient stays finite, and that it saves."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from deepfake_zoo.zoo.layers import STD_FLOOR, MeanStdPooling
from deepfake_zoo.zoo.registry import Registry


def test_mean_std_pooling_is_each_channels_mean_then_spread():
    maps = np.random.default_rng(0).normal(2.0, 3.0, (4, 5, 6, 3)).astype(np.float32)  # seeded
    got = keras.ops.convert_to_numpy(MeanStdPooling()(maps))
    assert got.shape == (4, 6)
    np.testing.assert_allclose(got[:, :3], maps.mean(axis=(1, 2)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[:, 3:], np.sqrt(maps.var(axis=(1, 2)) + STD_FLOOR), rtol=1e-4, atol=1e-5)


def test_a_constant_channel_has_a_finite_gradient():
    import tensorflow as tf

    maps = tf.constant(np.full((2, 3, 3, 2), 7.0, np.float32))
    with tf.GradientTape() as tape:
        tape.watch(maps)
        total = tf.reduce_sum(MeanStdPooling()(maps))
    grad = tape.gradient(total, maps).numpy()
    assert np.isfinite(grad).all()
    # A flat map's spread is the floor's root, not zero and not NaN.
    assert np.allclose(keras.ops.convert_to_numpy(MeanStdPooling()(maps))[:, 2:], np.sqrt(STD_FLOOR))


def test_a_model_pooling_mean_and_spread_reloads_with_the_same_output(tmp_path):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(MeanStdPooling(name="pool")(x)))
    images = np.random.default_rng(1).uniform(0, 1, (2, 8, 8, 3)).astype(np.float32)  # seeded
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(again.get_layer("pool"), MeanStdPooling)
    np.testing.assert_allclose(again.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)


def test_an_unknown_pooling_is_refused_when_registered():
    with pytest.raises(ValueError, match=r"pooling 'max' of tiny_frozen is not one of mean, mean_std"):
        Registry().register_model("tiny_frozen", family="tiny", input_size=32, frozen=True, preprocessing="unit",
                                  pooling="max")(lambda size, path: None)
