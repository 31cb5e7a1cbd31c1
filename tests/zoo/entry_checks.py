"""What the zoo tests check an entry against, as functions: the tests over every entry and the tests that register a
deliberately wrong entry use the same checks, so a check that could not fail would show."""
from __future__ import annotations

import re

import keras
import numpy as np

from deepfake_zoo.zoo.assembly import backbone_blocks
from deepfake_zoo.zoo.preprocessing import BackbonePreprocess


def batch(size: int, n: int = 2) -> np.ndarray:
    """`n` seeded random RGB images of `size` px, float32 in [0, 255]."""
    return np.random.default_rng(0).uniform(0, 255, (n, size, size, 3)).astype("float32")


def check_preprocessing(entry, model, size: int) -> None:
    """The backbone receives exactly what the entry's reference_preprocess makes of raw RGB."""
    extractor = model.get_layer("features")
    kinds = [type(layer).__name__ for layer in extractor.layers]
    # A linear chain input -> preprocess -> backbone: the preprocess output is exactly what the backbone gets.
    assert extractor.layers[1].name == "preprocess" and isinstance(extractor.layers[1], BackbonePreprocess), kinds
    assert extractor.layers[2].name == "backbone", kinds
    raw = batch(size)
    probe = keras.Model(extractor.input, extractor.get_layer("preprocess").output)
    seen = keras.ops.convert_to_numpy(probe(raw))
    assert entry.reference_preprocess is not None, f"{entry.name} declares no reference_preprocess"
    expected = keras.ops.convert_to_numpy(entry.reference_preprocess(raw.copy()))
    np.testing.assert_allclose(seen, expected, rtol=1e-5, atol=1e-4, err_msg=f"{entry.name}: preprocessing")
    if entry.preprocessing == "tf":
        assert seen.min() >= -1.0 and seen.max() <= 1.0 and seen.min() < -0.9 and seen.max() > 0.9
    if entry.preprocessing == "caffe":  # BGR order: channel 0 is blue minus the ImageNet blue mean
        np.testing.assert_allclose(seen[..., 0], raw[..., 2] - 103.939, atol=1e-3)


def check_blocks(entry, backbone) -> None:
    """block_pattern finds the declared number of blocks, each named once, in the built backbone."""
    if entry.block_pattern is None:
        return
    regex = re.compile(entry.block_pattern)
    ids = []
    for layer in backbone.layers:
        match = regex.match(layer.name)
        if match is not None:
            block_id = match.group(1) if regex.groups else match.group(0)
            if not ids or ids[-1] != block_id:
                ids.append(block_id)
    assert ids, f"{entry.name}: block_pattern {entry.block_pattern!r} matches no layer"
    # A block name that comes back after another block means the pattern cuts one block in two.
    assert len(set(ids)) == len(ids), f"{entry.name}: blocks out of order: {ids}"
    blocks = backbone_blocks(backbone, entry.block_pattern)
    assert len(blocks) == entry.blocks, f"{entry.name}: block_pattern finds {len(blocks)} blocks, declares {entry.blocks}"


def check_feature_layers(entry, backbone) -> None:
    """Every feature layer is a feature map of the built backbone, an output of it beside the last layer's."""
    # A name that is no layer at all already stops the build (zoo.assembly.build_backbone says which).
    for name in entry.feature_layers:
        assert len(backbone.get_layer(name).output.shape) == 4, f"{entry.name}: {name} is not a feature map"
    assert len(backbone.outputs) == len(entry.feature_layers) + 1, f"{entry.name}: outputs {backbone.outputs}"
