"""The notebook's custom CNN, fixed: BatchNorm after each convolution, global pooling instead of Flatten."""
from __future__ import annotations

import keras

from deepfake_zoo.zoo.registry import register_model

# The notebook's convolution widths and kernel sizes, two stages each closed by 2x2 max pooling.
STAGES = (((32, 5), (32, 5)), ((64, 3), (64, 3)))


def unit_scale(x):
    """The notebook's Rescaling(1/255): what the CNN was designed for, and what "unit" preprocessing must match."""
    return x / 255.0


@register_model("cnn", family="cnn", input_size=128, sizes=(32, 64, 96, 128, 160, 192, 224, 256), frozen=False,
                preprocessing="unit", reference_preprocess=unit_scale, default_weights="none",
                tags=("scratch", "notebook"))
def cnn(image_size, weights_path):
    """Custom CNN trained from scratch: two conv pairs (32x5x5, 64x3x3) with BatchNorm and max pooling."""
    layers = [keras.Input((image_size, image_size, 3))]
    for stage in STAGES:
        for filters, kernel in stage:
            # BatchNorm makes it train reliably (the notebook's had none); "same" padding keeps small inputs valid.
            # Momentum 0.9 (not Keras' 0.99): with a few hundred images an epoch has only a handful of steps, and the
            # slow default leaves the inference statistics near their initial values (validation stuck at chance).
            layers += [keras.layers.Conv2D(filters, kernel, padding="same", use_bias=False),
                       keras.layers.BatchNormalization(momentum=0.9), keras.layers.ReLU()]
        layers.append(keras.layers.MaxPooling2D(2))
    return keras.Sequential(layers, name="cnn_backbone")
