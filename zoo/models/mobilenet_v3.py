"""MobileNetV3Small (alpha 1.0): the smallest ImageNet backbone here, with squeeze-excite and hard-swish."""
from __future__ import annotations

import keras

from deepfake_zoo.zoo.applications import KERAS_APPLICATIONS_URL, application_backbone
from deepfake_zoo.zoo.registry import register_model

WEIGHTS_FILE = "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"
MOBILENET_V3_SMALL = dict(
    family="mobilenet_v3", input_size=224, sizes=(32, 64, 96, 128, 160, 192, 224),
    # Keras puts MobileNetV3's scaling to [-1, 1] inside the network (its preprocess_input passes input through).
    preprocessing="raw", reference_preprocess=keras.applications.mobilenet_v3.preprocess_input,
    default_weights="imagenet", weights_file=WEIGHTS_FILE,
    weights_url=f"{KERAS_APPLICATIONS_URL}mobilenet_v3/{WEIGHTS_FILE}",
    # 11 inverted-residual blocks named expanded_conv[_<n>]_*, then the 1x1 conv_1 to 576 channels as a last block.
    block_pattern=r"^(expanded_conv(?:_\d+)?)_", blocks=12, unfreeze_max=4, tags=("imagenet", "mobile"),
    # Block outputs at strides 4, 8 and 16 join the last 576 channels, as for MobileNetV2; not measured here.
    feature_layers=("expanded_conv_project_bn", "expanded_conv_2_add", "expanded_conv_7_add"),
    # Cached-trunk fine-tuning trains the last block only: the pattern's groups put a squeeze-excite skip across
    # every point of expanded_conv_10, so no single cached map could feed the last two.
    trunk_cuts=(1,),
)


@register_model("mobilenet_v3_small_finetune", frozen=False, **MOBILENET_V3_SMALL)
@register_model("mobilenet_v3_small_frozen", frozen=True, **MOBILENET_V3_SMALL)
def mobilenet_v3_small(image_size, weights_path):
    """MobileNetV3Small (alpha 1.0) without its top."""
    return application_backbone(keras.applications.MobileNetV3Small, image_size, weights_path, alpha=1.0)
