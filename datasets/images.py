"""Decode and resize images the one way every model sees them: training pipeline and `predict` share this code."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf


def resize_for_model(image, image_size: int) -> tf.Tensor:
    """Resize an RGB image (HxWx3, any numeric dtype, values 0..255) to float32 (size, size, 3) in [0, 255].

    Bilinear with antialias, straight to a square: the training crops are square faces, so no padding is added.
    Works on a single image or a batch (NxHxWx3).
    """
    image = tf.cast(image, tf.float32)
    resized = tf.image.resize(image, (image_size, image_size), method="bilinear", antialias=True)
    return tf.clip_by_value(resized, 0.0, 255.0)


def decode_rgb(contents: tf.Tensor) -> tf.Tensor:
    """Decode JPEG/PNG/BMP/GIF bytes to uint8 RGB (HxWx3); GIFs give their first frame."""
    image = tf.io.decode_image(contents, channels=3, expand_animations=False, dtype=tf.uint8)
    image.set_shape([None, None, 3])
    return image


def load_for_model(path: str | Path, image_size: int) -> np.ndarray:
    """Read one image file and return float32 (size, size, 3) raw RGB in [0, 255], as the pipeline would."""
    contents = tf.io.read_file(str(path))
    return resize_for_model(decode_rgb(contents), image_size).numpy()
