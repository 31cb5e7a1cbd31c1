"""Every registered model, built small with random weights: forward pass, preprocessing, save/load, one train step.

Parametrised over `zoo.list_models()`, so registering a model is enough for it to be tested here.
"""
from __future__ import annotations

import keras
import numpy as np
import pytest

from deepfake_zoo import zoo
from deepfake_zoo.zoo.assembly import backbone_blocks
from entry_checks import batch as _batch
from entry_checks import check_blocks, check_feature_layers, check_preprocessing

pytestmark = pytest.mark.slow


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
    # What the backbone expects is the entry's own reference_preprocess (Keras' per-application preprocess_input).
    entry, model, size = built
    check_preprocessing(entry, model, size)


def test_declared_blocks_and_feature_layers_are_in_the_built_backbone(built):
    entry, model, size = built
    backbone = zoo.training.find_backbone(model)
    check_blocks(entry, backbone)
    check_feature_layers(entry, backbone)


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
        # Blocks each backbone's block_pattern finds: its own stages, plus a final 1x1 conv where there is one.
        assert len(blocks) == entry.blocks
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
