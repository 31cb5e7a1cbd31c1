"""Small registered Keras layers saved models need beyond the backbones: second-order pooling of feature maps, an
ensemble's member calibration and mirrored inputs, and the head's choice of leading features when a search switches a
spectral branch off.

Registered under the `deepfake_zoo` package on import, and `deepfake_zoo.zoo` imports this module, so a saved model
using them reloads with `keras.saving.load_model` once the zoo is imported, as predict does.
"""
from __future__ import annotations

import keras
from keras import ops

# The same clipping as deepfake_zoo.search.calibration.EPSILON (not imported: the zoo never imports search), so a
# saturated member score gives the same finite logit in the model as in the run's files.
EPSILON = 1e-7


# Keeps the square root's gradient finite for a channel that is constant over the map (a dead ReLU, a blank crop).
STD_FLOOR = 1e-6


@keras.saving.register_keras_serializable(package="deepfake_zoo")
class MeanStdPooling(keras.layers.Layer):
    """(batch, h, w, c) -> (batch, 2c): each channel's mean over the map, then its standard deviation.

    The mean says which patterns a face holds; the spread says how evenly, and blending seams, resampling and
    re-compression change that second statistic where the mean barely moves. On 8,000 shared training faces a linear
    probe on MobileNetV2's pooled maps gained 0.02-0.05 validation ROC AUC from it.
    """

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        mean = ops.mean(x, axis=(1, 2))
        variance = ops.maximum(ops.mean(ops.square(x), axis=(1, 2)) - ops.square(mean), 0.0)
        return ops.concatenate([mean, ops.sqrt(variance + STD_FLOOR)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[-1])


@keras.saving.register_keras_serializable(package="deepfake_zoo")
class TemperatureScaling(keras.layers.Layer):
    """P(fake) in, calibrated P(fake) out: sigmoid(logit(clip(P)) / temperature), the transform of
    search.calibration.apply_temperature, with the temperature fixed (not trained) and saved in the config."""

    def __init__(self, temperature: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        temperature = float(temperature)
        if not temperature > 0:
            raise ValueError(f"temperature must be a positive number, got {temperature!r}; refit it on validation")
        self.temperature = temperature

    def call(self, inputs):
        p = ops.clip(ops.cast(inputs, "float32"), EPSILON, 1.0 - EPSILON)
        return ops.sigmoid((ops.log(p) - ops.log1p(-p)) / self.temperature)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


@keras.saving.register_keras_serializable(package="deepfake_zoo")
class LeadingFeatures(keras.layers.Layer):
    """(batch, d) -> (batch, count): the first `count` features, the rest ignored.

    A head uses it when its search turned the spectral branch off: the cached vector still carries the spectrum at
    its end (one cache serves trials with and without it), and the head simply does not look at it.
    """

    def __init__(self, count: int, **kwargs):
        super().__init__(**kwargs)
        if int(count) < 1:
            raise ValueError(f"LeadingFeatures keeps at least one feature, got count={count!r}")
        self.count = int(count)

    def call(self, inputs):
        return inputs[:, : self.count]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.count)

    def get_config(self):
        return {**super().get_config(), "count": self.count}


@keras.saving.register_keras_serializable(package="deepfake_zoo")
class HorizontalMirror(keras.layers.Layer):
    """Images (batch, h, w, c) -> the same images mirrored left to right, always (not a random augmentation).

    An ensemble member tested with --tta-flip had its threshold chosen on the mean over each image and its mirror;
    inside the ensemble it is fed both, so the saved ensemble reproduces the scores it was built from.
    """

    def call(self, inputs):
        return ops.flip(inputs, axis=-2)

    def compute_output_shape(self, input_shape):
        return input_shape
