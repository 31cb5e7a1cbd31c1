"""The cached-trunk split: a backbone cut at a block boundary composes back to the unsplit backbone."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from deepfake_zoo import zoo
from deepfake_zoo.zoo import assembly
from deepfake_zoo.zoo.applications import application_backbone
from deepfake_zoo.zoo.registry import Registry

# MobileNetV2's blocks hold residual adds inside them: a cut is only valid at a block boundary.
TINY_MOBILENET = dict(family="tiny_trunk", input_size=32, frozen=False, preprocessing="tf",
                      block_pattern=r"^(block_\d+)_", blocks=17, unfreeze_max=6)


def _mobilenet(image_size, weights_path):
    keras.utils.set_random_seed(0)
    return application_backbone(keras.applications.MobileNetV2, image_size, weights_path, alpha=0.35)


def _entry(name="tiny_trunk_finetune", **extra):
    registry = Registry()
    registry.register_model(name, **{**TINY_MOBILENET, **extra})(_mobilenet)
    return registry.get_model(name)


def _images(n=3, size=32, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype(np.float32)


@pytest.mark.parametrize("k", [1, 2, 4])
@pytest.mark.parametrize("feature_layers", [(), ("block_3_expand_relu", "block_13_expand_relu")])
def test_split_composes_to_the_unsplit_backbone(k, feature_layers):
    entry = _entry(feature_layers=feature_layers)
    backbone, _, _ = assembly.build_backbone(entry, 32, "none")
    split = assembly.split_backbone(entry, backbone, k)
    x = keras.ops.convert_to_numpy(_images()) / 127.5 - 1.0
    whole = backbone(x, training=False)
    whole = whole if isinstance(whole, (list, tuple)) else [whole]
    parts = split.lower(x, training=False)
    parts = parts if isinstance(parts, (list, tuple)) else [parts]
    uppers = split.upper(parts[0], training=False)
    uppers = uppers if isinstance(uppers, (list, tuple)) else [uppers]
    rebuilt = [parts[1:][i] if part == "lower" else uppers[i] for part, i in split.order]
    assert len(rebuilt) == len(whole)
    for got, want in zip(rebuilt, whole):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want), atol=1e-5)
    # The upper part is exactly the last k blocks.
    groups = assembly.backbone_blocks(backbone, entry.block_pattern)
    assert split.cut_layer == groups[-k][0].name


@pytest.mark.parametrize("pooling", ["mean", "mean_std"])
def test_trunk_then_upper_model_equals_the_full_model(pooling):
    # One feature layer below the cut (pooled into the cache) and one above it (pooled while training).
    entry = _entry(feature_layers=("block_3_expand_relu", "block_16_expand_relu"), pooling=pooling)
    hp = entry.hparams({"head_units": 8})
    trunk, _ = entry.build_trunk(2, image_size=32, weights="none")
    _, split = entry.build_trunk(2, image_size=32, weights="none")
    upper = assembly.build_upper_model(entry, split, hp)
    images = _images()
    cached = keras.ops.convert_to_numpy(trunk(images)).astype(np.float16)
    on_cache = keras.ops.convert_to_numpy(upper(cached.astype(np.float32), training=False))
    exported = assembly.export_trunk_model(entry, split, upper.get_layer("head"), 32, "none")
    on_images = keras.ops.convert_to_numpy(exported(images, training=False))
    np.testing.assert_allclose(on_images, on_cache, atol=2e-3)
    # alpha 0.35: the two expansions have 8 x 6 and 56 x 6 channels; the last layer keeps 1280.
    widths = {"mean": 48 + 336 + 1280, "mean_std": 2 * (48 + 336 + 1280)}
    assert upper.get_layer("head").input.shape[-1] == widths[pooling]
    # Only the last two blocks and the head train, BatchNorm excluded, as fine-tuning on images does.
    trained = {v.path.split("/")[-2] for v in upper.trainable_variables}
    assert any(name.startswith("block_16_") for name in trained) and "Conv_1" in trained
    assert not any(name.startswith("block_14_") for name in trained)
    assert not any("BN" in name or name.endswith("_bn") for name in trained)


def test_trunk_cuts_are_checked_when_registered():
    with pytest.raises(ValueError, match="trunk_cuts"):
        _entry(trunk_cuts=(1, 2, 3))
    with pytest.raises(ValueError, match="trunk_cuts"):
        _entry(trunk_cuts=(17,))
    with pytest.raises(ValueError, match="trunk_cuts"):
        Registry().register_model("tiny_nocut", family="t", input_size=32, frozen=False, preprocessing="unit",
                                  trunk_cuts=(1,))(_mobilenet)
    assert _entry().cut_choices == (1, 2)
    assert _entry(trunk_cuts=(3,)).cut_choices == (3,)


def _toy_entry(builder, blocks):
    registry = Registry()
    registry.register_model("toy_trunk_finetune", family="toy", input_size=8, frozen=False, preprocessing="unit",
                            block_pattern=r"^(block_\d+)_", blocks=blocks, unfreeze_max=1)(builder)
    return registry.get_model("toy_trunk_finetune")


def _conv(name):
    return keras.layers.Conv2D(4, 3, padding="same", name=name)


def test_a_residual_add_that_finishes_the_block_below_stays_below_the_cut():
    # As in Xception: the unnamed add closing block 1 is attached to block 2 by the pattern.
    def builder(size, _):
        inputs = keras.Input((size, size, 3))
        a = _conv("block_1_a")(inputs)
        b = _conv("block_1_b")(a)
        x = keras.layers.Add(name="add")([a, b])
        return keras.Model(inputs, _conv("block_2_a")(x))

    entry = _toy_entry(builder, 2)
    backbone, _, _ = assembly.build_backbone(entry, 8, "none")
    split = assembly.split_backbone(entry, backbone, 1)
    assert split.cut_layer == "block_2_a"
    x = _images(2, 8)
    lower = split.lower(x)
    cut = lower[0] if isinstance(lower, (list, tuple)) else lower
    np.testing.assert_allclose(keras.ops.convert_to_numpy(split.upper(cut)),
                               keras.ops.convert_to_numpy(backbone(x)), atol=1e-5)


def test_a_skip_connection_across_the_whole_block_is_refused():
    def builder(size, _):
        inputs = keras.Input((size, size, 3))
        a = _conv("block_1_a")(inputs)
        b = _conv("block_2_a")(a)
        c = _conv("block_3_a")(b)
        return keras.Model(inputs, keras.layers.Add(name="block_3_add")([a, c]))

    entry = _toy_entry(builder, 3)
    backbone, _, _ = assembly.build_backbone(entry, 8, "none")
    with pytest.raises(ValueError, match="no single tensor"):
        assembly.split_backbone(entry, backbone, 1)
    assert assembly.split_backbone(entry, backbone, 2).cut_layer == "block_2_a"


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in zoo.list_models("*_finetune") if zoo.get_model(n).block_pattern])
def test_every_declared_cut_of_the_zoo_splits(name):
    entry = zoo.get_model(name)
    size = min(s for s in entry.sizes if s >= 75)  # Inception and Xception need 75px; others take it too
    backbone, _, _ = assembly.build_backbone(entry, size, "none")
    for k in entry.cut_choices:
        split = assembly.split_backbone(entry, backbone, k)
        assert len(split.order) == len(backbone.outputs)
