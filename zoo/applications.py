"""Build a keras.applications backbone without its top at any input size, with ImageNet weights from a local file."""
from __future__ import annotations

from pathlib import Path

# Where Keras publishes the no-top ImageNet weights; the file names are what keras.utils.get_file caches them as.
KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


def application_backbone(application, image_size: int, weights_path: Path | None, **kwargs):
    """`application(include_top=False)` at (image_size, image_size, 3), loading `weights_path` when given.

    Building with weights=None and loading the file afterwards makes every input size use the one cached file:
    convolution weights do not depend on the input size (e.g. MobileNetV2 at 128 uses the 224 file).
    """
    model = application(include_top=False, weights=None, input_shape=(image_size, image_size, 3), **kwargs)
    if weights_path is not None:
        model.load_weights(str(weights_path))
    return model
