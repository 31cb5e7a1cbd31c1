"""InceptionV3, the notebook's transfer-learning backbone (its head was Flatten + Dense(128))."""
from __future__ import annotations

import keras

from deepfake_zoo.zoo.applications import KERAS_APPLICATIONS_URL, application_backbone
from deepfake_zoo.zoo.registry import register_model

WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INCEPTION_V3 = dict(
    family="inception", input_size=299, sizes=(75, 96, 128, 160, 224, 299), preprocessing="tf",
    reference_preprocess=keras.applications.inception_v3.preprocess_input,
    default_weights="imagenet", weights_file=WEIGHTS_FILE,
    weights_url=f"{KERAS_APPLICATIONS_URL}inception_v3/{WEIGHTS_FILE}",
    # Each Inception module ends in a concatenation named mixed<n>; its unnamed convolutions come just before.
    block_pattern=r"^(mixed\d+)$", blocks=11, unfreeze_max=4, tags=("imagenet", "notebook"),
    # Multi-level features as for MobileNetV2 (the mixed blocks at strides 8 and 16); not measured offline here.
    feature_layers=("mixed2", "mixed7"),
    trunk_cuts=(1, 2),  # cached-trunk fine-tuning trains the last one or two blocks
)


@register_model("inception_v3_finetune", frozen=False, **INCEPTION_V3)
@register_model("inception_v3_frozen", frozen=True, **INCEPTION_V3)
def inception_v3(image_size, weights_path):
    """InceptionV3 without its top."""
    return application_backbone(keras.applications.InceptionV3, image_size, weights_path)
