"""EfficientNetB0: takes raw 0..255 input and rescales and normalises inside itself."""
from __future__ import annotations

import keras

from deepfake_zoo.zoo.registry import register_model

WEIGHTS_FILE = "efficientnetb0_notop.h5"
EFFICIENTNET_B0 = dict(
    family="efficientnet", input_size=224, sizes=(32, 64, 96, 128, 160, 192, 224), preprocessing="raw",
    reference_preprocess=keras.applications.efficientnet.preprocess_input,
    default_weights="imagenet", weights_file=WEIGHTS_FILE,
    weights_url=f"https://storage.googleapis.com/keras-applications/{WEIGHTS_FILE}",
    # 16 MBConv blocks named block<stage><letter>_*, then top_conv/top_bn as a last block.
    block_pattern=r"^(block\d+[a-z])_", blocks=17, unfreeze_max=6, tags=("imagenet", "mobile"),
    # Multi-level features as for MobileNetV2 (stage outputs at strides 4, 8, 16); not measured offline here.
    feature_layers=("block2b_add", "block3b_add", "block5c_add"),
    trunk_cuts=(1, 2),  # cached-trunk fine-tuning trains the last one or two blocks
)


@register_model("efficientnet_b0_finetune", frozen=False, **EFFICIENTNET_B0)
@register_model("efficientnet_b0_frozen", frozen=True, **EFFICIENTNET_B0)
def efficientnet_b0(image_size, weights_path):
    """EfficientNetB0 without its top."""
    # Keras adds an ImageNet-specific rescaling layer only when weights="imagenet", so load through its own cache
    # (the same folder zoo.weights checked) instead of building with weights=None and loading the file afterwards.
    weights = "imagenet" if weights_path is not None else None
    return keras.applications.EfficientNetB0(include_top=False, weights=weights,
                                             input_shape=(image_size, image_size, 3))
