"""Every registered model, built small with random weights: forward pass, preprocessing, save/load, one train step.

Parametrised over `zoo.list_models()`, so registering a model is enough for it to be tested here.
"""
from __future__ import annotations

import keras
import numpy as np
import pytest

from deepfake_zoo import zoo
from deepfake_zoo.zoo.preprocessing import BackbonePreprocess
from deepfake_zoo.zoo.registry import backbone_blocks

pytestmark = pytest.mark.slow

# What each family's backbone expects, straight from Keras' own per-application preprocess_input.
REFERENCE_PREPROCESS = {
    "inception": keras.applications.inception_v3.preprocess_input,
    "xception": keras.applications.xception.preprocess_input,
    "mobilenet": keras.applications.mobilenet_v2.preprocess_input,
    "resnet": keras.applications.resnet50.preprocess_input,
    "efficientnet": keras.applications.efficientnet.preprocess_input,
    "cnn": lambda x: x / 255.0,
}
# Blocks each backbone's block_pattern finds: the architectures' own stages, plus a final 1x1 conv where there is one.
EXPECTED_BLOCKS = {"mobilenet": 17, "resnet": 16, "inception": 11, "xception": 14, "efficientnet": 17}


def _batch(size: int, n: int = 2) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (n, size, size, 3)).astype("float32")


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


@pytest.fixture(scope="module", params=zoo.list_models())
def built(request):
    """(entry, model, size): the model built once per module at its smallest allowed size, weights="none"."""
    entry = zoo.get_model(request.param)
    size = min(entry.sizes)
    keras.utils.set_random_seed(0)
    model = entry.build(image_size=size, weights="none")
    yield entry, model, size
    del model
    zoo.reset_session()


def test_forward_gives_probabilities(built):
    entry, model, size = built
    probs = keras.ops.convert_to_numpy(model(_batch(size, 3), training=False))
    assert probs.shape == (3, 1)
    assert np.all(np.isfinite(probs)) and np.all((probs >= 0) & (probs <= 1))
    assert model.zoo_weights == "none"
    assert model.input_shape == (None, size, size, 3)


def test_backbone_receives_its_preprocessing(built):
    entry, model, size = built
    extractor = model.get_layer("features")
    kinds = [type(layer).__name__ for layer in extractor.layers]
    # A linear chain input -> preprocess -> backbone: the preprocess output is exactly what the backbone gets.
    assert extractor.layers[1].name == "preprocess" and isinstance(extractor.layers[1], BackbonePreprocess), kinds
    assert extractor.layers[2].name == "backbone", kinds
    raw = _batch(size)
    probe = keras.Model(extractor.input, extractor.get_layer("preprocess").output)
    seen = keras.ops.convert_to_numpy(probe(raw))
    if entry.family in REFERENCE_PREPROCESS:
        expected = keras.ops.convert_to_numpy(REFERENCE_PREPROCESS[entry.family](raw.copy()))
        np.testing.assert_allclose(seen, expected, rtol=1e-5, atol=1e-4)
    if entry.preprocessing == "tf":
        assert seen.min() >= -1.0 and seen.max() <= 1.0 and seen.min() < -0.9 and seen.max() > 0.9
    if entry.preprocessing == "caffe":  # BGR order: channel 0 is blue minus the ImageNet blue mean
        np.testing.assert_allclose(seen[..., 0], raw[..., 2] - 103.939, atol=1e-3)


def test_backbone_trains_as_declared(built):
    entry, model, size = built
    backbone = zoo.training.find_backbone(model)
    weighted = [layer for layer in backbone.layers if layer.weights]
    trainable = {layer.name for layer in weighted if layer.trainable}
    if entry.frozen:
        assert not trainable
    elif not entry.finetune:
        assert trainable == {layer.name for layer in weighted}
    else:
        blocks = backbone_blocks(backbone, entry.block_pattern)
        if entry.family in EXPECTED_BLOCKS:
            assert len(blocks) == EXPECTED_BLOCKS[entry.family]
        assert len(blocks) >= entry.search_space["unfreeze_blocks"].high
        last = entry.default_hparams()["unfreeze_blocks"]
        assert trainable == {layer.name for block in blocks[-last:] for layer in block
                             if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)}


def test_saves_and_loads_as_keras(built, tmp_path):
    entry, model, size = built
    raw = _batch(size)
    path = tmp_path / f"{entry.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(raw, training=False)),
                               keras.ops.convert_to_numpy(model(raw, training=False)), rtol=1e-5, atol=1e-6)
    assert len(loaded.trainable_weights) == len(model.trainable_weights)
    assert loaded.get_layer("features").get_layer("preprocess").mode == entry.preprocessing


def test_one_training_step_changes_only_trainable_weights(built):
    entry, model, size = built
    zoo.compile_model(model, entry.default_hparams())
    model.run_eagerly = True  # tracing a graph costs more than the one step it would speed up
    # Random-init backbones at tiny inputs carry activations near 1e-13, whose Adam steps (about lr * g / epsilon)
    # fall below float32 resolution; a negligible epsilon makes every non-zero gradient a visible step.
    model.optimizer.epsilon = 1e-30
    # BatchNorm statistics move in training only where the BatchNorm layer itself trains (the from-scratch cnn).
    moving = {id(v) for layer in _all_layers(model)
              if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
              for v in layer.non_trainable_weights}
    before = [v.numpy().copy() for v in model.weights]
    # Unbalanced labels: with balanced ones a near-constant output gives the output bias a zero gradient.
    model.train_on_batch(_batch(size, 4), np.array([0, 1, 1, 1], "float32"))
    trainable = {id(v) for v in model.trainable_weights}
    head = {id(v) for v in model.get_layer("head").trainable_weights}
    moved, stuck = set(), []
    for value, variable in zip(before, model.weights):
        changed = not np.array_equal(value, variable.numpy())
        if id(variable) in trainable:
            if changed:
                moved.add(id(variable))
            else:
                stuck.append(variable.path)
        elif id(variable) not in moving:
            assert not changed, f"non-trainable {variable.path} moved"
    assert head <= moved, f"head weights did not move: {stuck}"
    # A few random-init units can be dead (exactly zero gradient), so ask for most trainable weights, not all.
    assert len(moved) >= 0.9 * len(trainable), f"{len(stuck)} of {len(trainable)} trainable weights stuck: {stuck}"
    backbone = zoo.training.find_backbone(model)
    if entry.frozen:
        assert trainable == head
    else:
        assert backbone.trainable_weights and trainable > head
    if entry.finetune:
        assert not any(layer.trainable for layer in backbone.layers
                       if isinstance(layer, keras.layers.BatchNormalization))
        assert isinstance(model.optimizer, zoo.BackboneScaledAdam)
