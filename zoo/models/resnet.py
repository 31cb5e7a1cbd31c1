"""ResNet50, the notebook's second transfer-learning backbone (caffe-style BGR, mean-subtracted input)."""
from __future__ import annotations

import keras

from deepfake_zoo.zoo.applications import KERAS_APPLICATIONS_URL, application_backbone
from deepfake_zoo.zoo.registry import register_model

WEIGHTS_FILE = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
RESNET50 = dict(
    family="resnet", input_size=224, sizes=(32, 64, 96, 128, 160, 192, 224), preprocessing="caffe",
    reference_preprocess=keras.applications.resnet50.preprocess_input,
    default_weights="imagenet", weights_file=WEIGHTS_FILE, weights_url=f"{KERAS_APPLICATIONS_URL}resnet/{WEIGHTS_FILE}",
    # 16 bottleneck blocks named conv<stage>_block<n>_*; the stem joins the first.
    block_pattern=r"^(conv\d_block\d+)_", blocks=16, unfreeze_max=6, tags=("imagenet", "notebook"),
    # Multi-level features as for MobileNetV2 (stage outputs at strides 4, 8, 16); not measured offline here.
    feature_layers=("conv2_block3_out", "conv3_block4_out", "conv4_block6_out"),
    trunk_cuts=(1, 2),  # cached-trunk fine-tuning trains the last one or two blocks
)


@register_model("resnet50_finetune", frozen=False, **RESNET50)
@register_model("resnet50_frozen", frozen=True, **RESNET50)
def resnet50(image_size, weights_path):
    """ResNet50 without its top."""
    return application_backbone(keras.applications.ResNet50, image_size, weights_path)
