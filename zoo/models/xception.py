"""Xception, the standard deepfake-detection baseline (FaceForensics++)."""
from __future__ import annotations

import keras

from deepfake_zoo.zoo.applications import KERAS_APPLICATIONS_URL, application_backbone
from deepfake_zoo.zoo.registry import register_model

WEIGHTS_FILE = "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"
XCEPTION = dict(
    family="xception", input_size=299, sizes=(71, 96, 128, 160, 224, 299), preprocessing="tf",
    reference_preprocess=keras.applications.xception.preprocess_input,
    default_weights="imagenet", weights_file=WEIGHTS_FILE,
    weights_url=f"{KERAS_APPLICATIONS_URL}xception/{WEIGHTS_FILE}",
    # 14 blocks named block<n>_*; each residual 1x1 convolution (unnamed) joins the block it bypasses.
    block_pattern=r"^(block\d+)_", blocks=14, unfreeze_max=4, tags=("imagenet", "baseline"),
    # Multi-level features as for MobileNetV2 (entry and middle flow outputs); not measured offline here.
    feature_layers=("block4_sepconv2_bn", "block13_sepconv2_bn"),
    trunk_cuts=(1, 2),  # cached-trunk fine-tuning trains the last one or two blocks
)


@register_model("xception_finetune", frozen=False, **XCEPTION)
@register_model("xception_frozen", frozen=True, **XCEPTION)
def xception(image_size, weights_path):
    """Xception without its top."""
    return application_backbone(keras.applications.Xception, image_size, weights_path)
