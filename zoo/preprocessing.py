"""Per-backbone input preprocessing as one serializable Keras layer, so every model takes raw RGB in [0, 255]."""
from __future__ import annotations

import keras
from keras import ops

# How each mode maps raw RGB 0..255; "tf"/"caffe"/"torch" delegate to Keras' own imagenet_utils so they match the
# backbones' published preprocess_input exactly.
MODES = {
    "tf": "scale to [-1, 1] (InceptionV3, Xception, MobileNetV2)",
    "caffe": "RGB -> BGR, subtract the ImageNet mean per channel, no scaling (ResNet50)",
    "torch": "scale to [0, 1], then standardise with the ImageNet mean and std per channel",
    "raw": "unchanged 0..255 (EfficientNet rescales inside itself)",
    "unit": "scale to [0, 1] (the custom CNN)",
}


@keras.saving.register_keras_serializable(package="zoo")
class BackbonePreprocess(keras.layers.Layer):
    """Map raw RGB float in [0, 255] to what a backbone expects; `mode` is one of MODES.

    >>> BackbonePreprocess("tf")(np.full((1, 2, 2, 3), 255.0)).numpy().max()
    1.0
    """

    def __init__(self, mode: str, **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"unknown preprocessing mode {mode!r}: use one of {', '.join(MODES)}")
        self.mode = mode

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode in ("tf", "caffe", "torch"):
            return keras.applications.imagenet_utils.preprocess_input(x, data_format="channels_last", mode=self.mode)
        if self.mode == "unit":
            return x / 255.0
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
