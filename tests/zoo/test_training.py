"""compile_model: the project's loss and metrics, and a backbone that really moves slower than the head."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from deepfake_zoo import zoo


def small_backbone(image_size, weights_path):
    """Two named conv blocks (no BatchNorm, so activations stay lively at random init)."""
    return keras.Sequential([keras.Input((image_size, image_size, 3)),
                             keras.layers.Conv2D(8, 3, activation="relu", name="block1_conv"),
                             keras.layers.Conv2D(8, 3, activation="relu", name="block2_conv")])


@pytest.fixture
def finetune_entry():
    zoo.register_model("small_test_finetune", family="smalltest", input_size=16, frozen=False,
                       preprocessing="unit", block_pattern=r"^(block\d+)_", blocks=2, unfreeze_max=2)(small_backbone)
    yield zoo.get_model("small_test_finetune")
    zoo.unregister_model("small_test_finetune")


DATA = (np.random.default_rng(0).uniform(0, 255, (8, 16, 16, 3)).astype("float32"),
        np.array([0, 1, 1, 0, 1, 0, 1, 1], "float32"))


def _mean_steps(model, hp):
    """Mean absolute change of backbone and of head kernels after one training step."""
    zoo.compile_model(model, hp)
    backbone = zoo.training.find_backbone(model)
    kernels = {"backbone": [backbone.get_layer("block2_conv").kernel],
               "head": [model.get_layer("head").get_layer("head_dense").kernel]}
    before = {k: [v.numpy().copy() for v in vs] for k, vs in kernels.items()}
    model.train_on_batch(*DATA)
    return {k: float(np.mean([np.abs(v.numpy() - b).mean() for v, b in zip(vs, before[k])]))
            for k, vs in kernels.items()}


def test_backbone_moves_by_backbone_lr_ratio(finetune_entry):
    hp = {"learning_rate": 1e-3, "unfreeze_blocks": 1, "backbone_lr_ratio": 0.01}
    keras.utils.set_random_seed(0)
    scaled = _mean_steps(finetune_entry.build(hp), hp)
    keras.utils.set_random_seed(0)
    equal = _mean_steps(finetune_entry.build(hp), {**hp, "backbone_lr_ratio": 1.0})
    # Adam's first step is about learning_rate per element, so the ratio shows directly in the step sizes.
    assert 0 < scaled["backbone"] < 0.03 * scaled["head"]
    assert equal["backbone"] > 0.3 * equal["head"]
    assert scaled["backbone"] == pytest.approx(0.01 * equal["backbone"], rel=0.2)


def test_scaled_optimizer_survives_save_and_load(finetune_entry, tmp_path):
    hp = {"learning_rate": 1e-3, "unfreeze_blocks": 1, "backbone_lr_ratio": 0.01}
    model = finetune_entry.build(hp)
    zoo.compile_model(model, hp)
    model.train_on_batch(*DATA)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer, zoo.BackboneScaledAdam)
    assert loaded.optimizer.backbone_lr_ratio == 0.01
    assert loaded.optimizer.backbone_indices == model.optimizer.backbone_indices == [0, 1]  # block2 kernel, bias
    backbone_kernel = zoo.training.find_backbone(loaded).get_layer("block2_conv").kernel
    head_kernel = loaded.get_layer("head").get_layer("head_dense").kernel
    before = backbone_kernel.numpy().copy(), head_kernel.numpy().copy()
    loaded.train_on_batch(*DATA)
    step_backbone = np.abs(backbone_kernel.numpy() - before[0]).mean()
    step_head = np.abs(head_kernel.numpy() - before[1]).mean()
    assert 0 < step_backbone < 0.05 * step_head


def test_compile_uses_binary_cross_entropy_auc_and_accuracy():
    entry = zoo.get_model("cnn")
    model = entry.build(image_size=32)
    zoo.compile_model(model, entry.default_hparams())
    assert type(model.optimizer) is keras.optimizers.Adam
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(entry.default_hparams()["learning_rate"])
    x = np.random.default_rng(1).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    y = np.array([0, 1] * 4, "float32")
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(result) == {"loss", "roc_auc", "accuracy"}
    probs = keras.ops.convert_to_numpy(model(x, training=False)).ravel()
    expected_loss = -np.mean(y * np.log(probs) + (1 - y) * np.log(1 - probs))
    assert result["loss"] == pytest.approx(expected_loss, rel=1e-3)
    assert result["accuracy"] == pytest.approx(np.mean((probs > 0.5) == y))


def test_head_alone_compiles_with_plain_adam():
    entry = zoo.get_model("mobilenet_v2_finetune")
    head = entry.build_head(1280, entry.default_hparams())
    zoo.compile_model(head, entry.default_hparams())
    assert type(head.optimizer) is keras.optimizers.Adam
    assert head.output_shape == (None, 1) and head.layers[-1].activation.__name__ == "sigmoid"
    assert head.get_layer("head_dense").units == 128
