"""Grad-CAM points where the evidence is, for plain CNNs and for zoo models whose backbone is one nested layer."""
from __future__ import annotations

import numpy as np
import pytest

from deepfake_zoo.predict.explain import ExplainUnavailableError, gradcam, overlay


def brightness_model(nested: bool = False):
    """P(fake) rises with mean brightness: a 1x1 convolution summing RGB, pooled, through one positive weight."""
    import keras

    keras.utils.set_random_seed(0)
    conv = keras.layers.Conv2D(1, 1, activation="relu", kernel_initializer=keras.initializers.Constant(1 / 765),
                               bias_initializer="zeros")
    if nested:
        inner_in = keras.Input((16, 16, 3))
        backbone = keras.Model(inner_in, conv(inner_in), name="backbone")
        outer_in = keras.Input((16, 16, 3))
        x = backbone(outer_in)
    else:
        outer_in = keras.Input((16, 16, 3))
        x = conv(outer_in)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(1, activation="sigmoid", kernel_initializer=keras.initializers.Constant(4.0),
                             bias_initializer=keras.initializers.Constant(-1.0))(x)
    return keras.Model(outer_in, out)


@pytest.mark.parametrize("nested", [False, True])
def test_the_heatmap_peaks_where_the_evidence_is(nested):
    image = np.zeros((1, 16, 16, 3), dtype=np.float32)
    image[0, :6, :6] = 255.0  # the only bright corner
    heat = gradcam(brightness_model(nested), image)
    assert heat.shape == (1, 16, 16)
    assert heat.max() == pytest.approx(1.0)
    assert heat[0, :6, :6].min() > 0.99 and heat[0, 8:, 8:].max() == 0.0


def test_a_model_without_a_feature_map_says_so():
    import keras

    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(inputs)))
    with pytest.raises(ExplainUnavailableError, match="no 4-D feature map"):
        gradcam(model, np.zeros((1, 4, 4, 3), dtype=np.float32))


def test_overlay_is_the_crop_tinted_by_the_heat():
    crop = np.full((50, 50, 3), 100, dtype=np.uint8)
    cold, hot = np.zeros((4, 4), np.float32), np.ones((4, 4), np.float32)
    assert overlay(crop, cold, side=32).shape == (32, 32, 3)
    # No heat leaves the face as it is; full heat tints it towards jet's red.
    assert np.array_equal(overlay(crop, cold, side=50), crop)
    assert overlay(crop, hot)[..., 0].mean() > overlay(crop, cold)[..., 0].mean()
    assert overlay(crop, cold)[..., 2].mean() > overlay(crop, hot)[..., 2].mean()


def test_zoo_models_are_explained_at_their_last_block():
    from deepfake_zoo.zoo import discover_models
    from deepfake_zoo.zoo.registry import get_model

    discover_models()
    model = get_model("cnn").build()
    size = model.input_shape[1]
    heat = gradcam(model, np.random.default_rng(0).uniform(0, 255, (2, size, size, 3)).astype("float32"))
    assert heat.ndim == 3 and len(heat) == 2 and heat.shape[1] < size
    assert 0.0 <= heat.min() and heat.max() <= 1.0
