"""The registry: registration from any module, name resolution, errors, and every entry's declared metadata."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from deepfake_zoo import zoo
from deepfake_zoo.zoo.assembly import backbone_blocks
from deepfake_zoo.zoo.search_space import AUGMENTATIONS, FROZEN_AUGMENTATIONS, Categorical, Float, Int
from entry_checks import check_blocks, check_feature_layers, check_preprocessing


def tiny_backbone(image_size, weights_path):
    """Three named conv blocks: enough structure to fine-tune 'the last blocks'."""
    layers = [keras.Input((image_size, image_size, 3))]
    for block, filters in enumerate((4, 8, 8), start=1):
        layers += [keras.layers.Conv2D(filters, 3, padding="same", name=f"block{block}_conv"),
                   keras.layers.BatchNormalization(name=f"block{block}_bn"),
                   keras.layers.ReLU(name=f"block{block}_relu")]
    return keras.Sequential(layers)


def tiny_functional_backbone(image_size, weights_path):
    """tiny_backbone as a functional model, whose inner layers' outputs can serve as feature_layers."""
    sequential = tiny_backbone(image_size, weights_path)
    return keras.Model(sequential.inputs, sequential.outputs[0])


@pytest.fixture
def tiny_models():
    """A frozen and a fine-tuned variant registered here, in a test module, and removed afterwards."""
    names = ("tiny_test_frozen", "tiny_test_finetune")
    common = dict(family="tinytest", input_size=32, sizes=(16, 32), preprocessing="unit", block_pattern=r"^(block\d+)_",
                  blocks=3)
    zoo.register_model(names[0], frozen=True, **common)(tiny_backbone)
    zoo.register_model(names[1], frozen=False, unfreeze_max=3, **common)(tiny_backbone)
    yield names
    for name in names:
        zoo.unregister_model(name)


def test_entries_cover_the_issue():
    names = zoo.list_models()
    assert "cnn" in names
    for backbone in ("inception_v3", "resnet50", "efficientnet_b0", "mobilenet_v2", "xception"):
        assert f"{backbone}_frozen" in names and f"{backbone}_finetune" in names
    for name in names:
        assert name == "cnn" or name.endswith(("_frozen", "_finetune"))


def test_model_registered_in_a_test_module_is_listed_and_builds(tiny_models):
    frozen, finetune = tiny_models
    assert zoo.list_models("tiny_test*") == sorted(tiny_models)
    assert zoo.resolve_models("tinytest") == sorted(tiny_models)
    assert set(tiny_models) <= set(zoo.resolve_models("all"))
    entry = zoo.get_model(frozen)
    assert entry.doc == "Three named conv blocks: enough structure to fine-tune 'the last blocks'."
    model = entry.build(image_size=16)
    probs = keras.ops.convert_to_numpy(model(np.full((2, 16, 16, 3), 128.0, "float32")))
    assert probs.shape == (2, 1) and np.all((probs >= 0) & (probs <= 1))
    assert model.zoo_weights == "none"


def test_finetune_unfreezes_the_last_blocks_except_batchnorm(tiny_models):
    entry = zoo.get_model(tiny_models[1])
    assert entry.finetune and set(entry.search_space) >= {"unfreeze_blocks", "backbone_lr_ratio"}
    model = entry.build({"unfreeze_blocks": 2})
    backbone = zoo.training.find_backbone(model)
    trainable = sorted(layer.name for layer in backbone.layers if layer.trainable and layer.weights)
    assert trainable == ["block2_conv", "block3_conv"]
    assert [[layer.name for layer in block] for block in backbone_blocks(backbone, entry.block_pattern)][0] == [
        "block1_conv", "block1_bn", "block1_relu"]


def test_duplicate_name_is_an_error(tiny_models):
    with pytest.raises(ValueError, match="already registered"):
        zoo.register_model(tiny_models[0], family="tinytest", input_size=32, frozen=True,
                           preprocessing="unit")(tiny_backbone)
    with pytest.raises(ValueError, match="already registered"):
        zoo.register_model("cnn", family="cnn", input_size=32, frozen=False, preprocessing="unit")(tiny_backbone)


def _throwaway(name: str, builder=tiny_backbone, **declared):
    """The entry `name` (tiny_backbone, "tf" preprocessing) registered in a registry of its own, never the zoo's."""
    registry = zoo.Registry()
    fields = dict(family="throwaway", input_size=32, frozen=name.endswith("_frozen"), preprocessing="tf",
                  reference_preprocess=keras.applications.mobilenet_v2.preprocess_input,
                  block_pattern=r"^(block\d+)_", blocks=3, unfreeze_max=3)
    registry.register_model(name, **{**fields, **declared})(builder)
    assert registry.list_models() == [name] and name not in zoo.list_models()
    return registry.get_model(name)


def test_a_wrong_preprocessing_fails_the_check_every_entry_gets():
    right = _throwaway("right_frozen")
    check_preprocessing(right, right.build(image_size=32), 32)
    for mode in ("caffe", "raw", "unit"):
        wrong = _throwaway("wrong_frozen", preprocessing=mode)
        with pytest.raises(AssertionError, match="wrong_frozen: preprocessing"):
            check_preprocessing(wrong, wrong.build(image_size=32), 32)


def test_a_wrong_block_count_or_feature_layer_fails_the_checks_every_entry_gets():
    right = _throwaway("right_finetune", tiny_functional_backbone, frozen=False,
                       feature_layers=("block1_relu", "block2_relu"))
    backbone = zoo.training.find_backbone(right.build(image_size=32))
    check_blocks(right, backbone)
    check_feature_layers(right, backbone)
    wrong = _throwaway("wrong_finetune", frozen=False, blocks=4)
    with pytest.raises(AssertionError, match="finds 3 blocks, declares 4"):
        check_blocks(wrong, zoo.training.find_backbone(wrong.build(image_size=32)))
    split = _throwaway("split_finetune", frozen=False, block_pattern=r"^block\d+_(\w+)$")  # names conv, bn, relu
    with pytest.raises(AssertionError, match="out of order"):
        check_blocks(split, zoo.training.find_backbone(split.build(image_size=32)))
    with pytest.raises(ValueError, match=r"feature_layers \['block9_relu'\] of missing_frozen are not layers"):
        _throwaway("missing_frozen", tiny_functional_backbone,
                   feature_layers=("block1_relu", "block9_relu")).build(image_size=32)


NOTOP = "throwaway_weights_tf_dim_ordering_tf_kernels_notop.h5"


@pytest.mark.parametrize("name, declared, message", [
    ("plain", dict(frozen=True), "is frozen, so its name must end in _frozen"),
    ("plain_frozen", dict(frozen=False), "must not end in _frozen"),
    ("plain", dict(frozen=False), "fine-tunes its last blocks .block_pattern=., so its name must end in _finetune"),
    ("plain_frozen", dict(preprocessing="bgr"), "unknown preprocessing mode 'bgr' for plain_frozen: use one of tf"),
    ("plain_frozen", dict(reference_preprocess="tf"), "reference_preprocess of plain_frozen is not a function"),
    ("plain_frozen", dict(weights_file=NOTOP, reference_preprocess=None), "declares no reference_preprocess"),
    ("plain_frozen", dict(weights_file="throwaway.h5"), "'throwaway.h5' of plain_frozen is not a Keras no-top"),
    ("plain_frozen", dict(weights_file=f"models/{NOTOP}"), "is not a Keras no-top weights file"),
    ("plain_frozen", dict(weights_file=NOTOP, weights_url="https://x/other_notop.h5"), f"must end in /{NOTOP}"),
    ("plain_frozen", dict(weights_url=f"https://x/{NOTOP}"), "has a weights_url but no weights_file"),
    ("plain_frozen", dict(default_weights="imagenet"), "defaults to ImageNet weights but names no weights_file"),
    ("plain_frozen", dict(default_weights="random"), "default_weights for plain_frozen must be one of"),
    ("plain_frozen", dict(blocks=None), "declares block_pattern= but not blocks="),
    ("plain_frozen", dict(block_pattern=None), "declares blocks= without block_pattern="),
    ("plain_frozen", dict(block_pattern="(block"), "block_pattern of plain_frozen is not a regular expression"),
    ("plain_finetune", dict(frozen=False, unfreeze_max=4), "may unfreeze up to 4 blocks but declares 3"),
])
def test_registration_rejects_a_declaration_that_breaks_a_rule(name, declared, message):
    with pytest.raises(ValueError, match=message):
        _throwaway(name, **declared)


def test_resolve_models_accepts_families_globs_comma_lists_and_all():
    assert zoo.resolve_models("inception") == ["inception_v3_finetune", "inception_v3_frozen"]
    assert zoo.resolve_models("inception*") == ["inception_v3_finetune", "inception_v3_frozen"]
    assert zoo.resolve_models("cnn, resnet50_frozen,cnn") == ["cnn", "resnet50_frozen"]
    assert zoo.resolve_models(["*_frozen", "cnn"])[-1] == "cnn"
    assert zoo.resolve_models("all") == zoo.list_models()
    assert zoo.list_models(family="mobilenet") == ["mobilenet_v2_finetune", "mobilenet_v2_frozen",
                                                   "mobilenet_v2_spectral_frozen"]
    assert zoo.list_models(tag="baseline") == ["xception_finetune", "xception_frozen"]


def test_unknown_name_lists_close_matches():
    with pytest.raises(zoo.UnknownModelError, match="did you mean.*inception_v3_frozen"):
        zoo.get_model("inceptoin_v3_frozen")
    with pytest.raises(zoo.UnknownModelError, match="did you mean.*resnet"):
        zoo.resolve_models("cnn,resnt")
    with pytest.raises(zoo.UnknownModelError, match="empty model spec"):
        zoo.resolve_models(" , ")


@pytest.mark.parametrize("name", zoo.list_models())
def test_entry_declares_sizes_weights_and_search_space(name):
    entry = zoo.get_model(name)
    assert entry.input_size in entry.sizes and min(entry.sizes) >= 32
    with pytest.raises(ValueError, match="use one of"):
        entry.check_size(max(entry.sizes) + 1)
    # A frozen or fine-tuned backbone is only worth its place with pretrained weights.
    pretrained = entry.frozen or entry.finetune
    if pretrained:
        assert entry.default_weights == "imagenet"
    if entry.family == "cnn":
        assert entry.default_weights == "none" and entry.preprocessing == "unit"
    assert entry.resolve_weights("none") == "none"
    space = entry.search_space
    assert isinstance(space["learning_rate"], Float) and space["learning_rate"].log
    assert isinstance(space["head_units"], Int) and isinstance(space["dropout"], Float)
    assert isinstance(space["augment"], Categorical) and set(space["augment"].choices) <= set(AUGMENTATIONS)
    if entry.frozen:
        assert set(space["augment"].choices) <= set(FROZEN_AUGMENTATIONS)
        assert "unfreeze_blocks" not in space and "backbone_lr_ratio" not in space
    if entry.finetune:
        assert isinstance(space["unfreeze_blocks"], Int) and space["unfreeze_blocks"].low >= 1
        assert isinstance(space["backbone_lr_ratio"], Float) and space["backbone_lr_ratio"].high <= 1.0
    hp = entry.default_hparams()
    assert hp["head_units"] == 128  # the notebook's Dense(128)
    for key, param in space.items():
        value = hp[key]
        if isinstance(param, Categorical):
            assert value in param.choices
        else:
            assert param.low <= value <= param.high
    if pretrained:
        assert entry.weights_file and entry.weights_url.endswith(entry.weights_file)


def test_augment_choices_are_pipeline_policies():
    from deepfake_zoo.datasets.pipeline import AUGMENTATIONS as PIPELINE

    for name in zoo.list_models():
        assert set(zoo.get_model(name).search_space["augment"].choices) <= set(PIPELINE), name


def test_search_space_params_reject_bad_ranges():
    with pytest.raises(ValueError, match="empty"):
        Float(1.0, 0.1)
    with pytest.raises(ValueError, match="low > 0"):
        Float(0.0, 1.0, log=True)
    with pytest.raises(ValueError, match="non-empty tuple"):
        Categorical(["a"])
    assert Int(2, 8, step=2).default_value() == 2 and Categorical(("a", "b")).default_value() == "a"
    assert Float(1e-4, 1e-2, log=True).default_value() == pytest.approx(1e-3)
