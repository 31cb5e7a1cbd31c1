"""Fine-tuning from a cached trunk: activations cached per cut, upper blocks trained on them, exported on images."""
from __future__ import annotations

from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf

from deepfake_zoo.datasets.manifest import load_manifest
from deepfake_zoo.search.training import TrunkTask, first_images, head_epoch_function, make_task
from deepfake_zoo.zoo import assembly
from deepfake_zoo.zoo.applications import application_backbone
from deepfake_zoo.zoo.registry import Registry
from deepfake_zoo.zoo.search_space import Categorical, Float, Int

SPACE = {"learning_rate": Float(1e-3, 1e-2, log=True, default=3e-3), "head_units": Int(0, 8, step=8, default=8),
         "dropout": Float(0.0, 0.2, default=0.0), "augment": Categorical(("none", "flip")),
         "unfreeze_blocks": Int(1, 3, default=2)}


def _mobilenet(image_size, weights_path):
    keras.utils.set_random_seed(0)  # every build the same weights, as a pretrained file would give
    return application_backbone(keras.applications.MobileNetV2, image_size, weights_path, alpha=0.35)


@pytest.fixture(scope="module")
def entry():
    registry = Registry()
    registry.register_model("tiny_trunk_finetune", family="tiny_trunk", input_size=32, frozen=False,
                            preprocessing="tf", block_pattern=r"^(block_\d+)_", blocks=17, trunk_cuts=(1, 2),
                            feature_layers=("block_6_expand_relu",), search_space=SPACE)(_mobilenet)
    return registry.get_model("tiny_trunk_finetune")


def _task(entry, demo_manifest, cache_dir, views=1):
    frame = load_manifest(demo_manifest)
    return TrunkTask(entry, frame, 32, "none", batch_size=16, seed=0, cache_dir=cache_dir, views=views)


def test_make_task_picks_the_trunk_only_when_asked(entry, demo_manifest, tmp_path):
    frame = load_manifest(demo_manifest)
    config = SimpleNamespace(batch_size=16, seed=0, cache_dir=str(tmp_path), augment_views=1, trunk_cache=True,
                             xla=False)
    assert isinstance(make_task(entry, frame, 32, "none", config), TrunkTask)
    config.trunk_cache = False
    assert not isinstance(make_task(entry, frame, 32, "none", config), TrunkTask)


def test_cache_is_float16_keyed_by_the_cut_and_read_back(entry, demo_manifest, tmp_path):
    task = _task(entry, demo_manifest, tmp_path)
    rows = task.frames["val"]
    keys = {k: task.trunk_cache(k).key(rows, "none", 0) for k in (1, 2)}
    assert keys[1] != keys[2]
    first = task.features("val", k=2)
    assert first.dtype == tf.float16
    again = _task(entry, demo_manifest, tmp_path)
    assert again.trunk_cache(2).key(rows, "none", 0) == keys[2]
    np.testing.assert_array_equal(again.features("val", k=2).numpy(), first.numpy())
    assert again.trunk_cache(2).hits == 1 and again.trunk_cache(2).misses == 0
    # The cache holds what the trunk computes on the images, to float16 precision.
    images = first_images(task.frames["val"], 32, 4)
    direct = keras.ops.convert_to_numpy(task.trunk_cache(2).extractor(images))
    np.testing.assert_allclose(first.numpy()[:4].astype(np.float32), direct, rtol=2e-3, atol=2e-3)


def test_unfreeze_blocks_snaps_to_the_declared_cuts(entry, demo_manifest, tmp_path):
    task = _task(entry, demo_manifest, tmp_path)
    assert [task.cut_for({"unfreeze_blocks": v}) for v in (1, 2, 3, 6)] == [1, 2, 2, 2]
    assert task.search_space["unfreeze_blocks"] == Categorical((1, 2))
    assert task.search_space["learning_rate"] == SPACE["learning_rate"]


def test_upper_blocks_learn_a_separable_toy_problem(entry, demo_manifest, tmp_path):
    # Cached maps whose mean says the label: only training through the trunk vector can find it.
    _, split = entry.build_trunk(2, image_size=32, weights="none")
    model = assembly.build_upper_model(entry, split, entry.hparams({"learning_rate": 1e-2}))
    from deepfake_zoo import zoo
    zoo.compile_model(model, entry.hparams({"learning_rate": 1e-2}))
    rng = np.random.default_rng(0)
    y = (np.arange(256) % 2).astype(np.float32)
    x = rng.normal(0, 1, (256, model.input_shape[-1])) + (2 * y[:, None] - 1) * 0.5
    x = tf.constant(x.astype(np.float16))
    before = [w.numpy().copy() for w in model.get_layer("backbone").trainable_weights]
    run = head_epoch_function(model)
    losses = [float(run(x, tf.constant(y), tf.constant(32), tf.constant([0, e]))) for e in range(6)]
    scores = keras.ops.convert_to_numpy(model(tf.cast(x, tf.float32), training=False)).reshape(-1)
    assert losses[-1] < losses[0] * 0.5
    assert np.mean((scores > 0.5) == (y > 0.5)) > 0.95
    after = model.get_layer("backbone").trainable_weights
    assert before and any(not np.allclose(a, b.numpy()) for a, b in zip(before, after))


@pytest.mark.slow
def test_fit_then_export_scores_images_as_the_trial_scored_the_cache(entry, demo_manifest, tmp_path):
    task = _task(entry, demo_manifest, tmp_path / "cache", views=2)
    assert task.preload().endswith("computed")
    hp = entry.hparams({"augment": "flip", "unfreeze_blocks": 2})
    fitted = task.fit(hp, epochs=2, patience=2)
    assert len(fitted.history["loss"]) == 2 and all(np.isfinite(fitted.history["loss"]))
    # As the study does: the trial is checkpointed, reloaded, then exported.
    checkpoint = tmp_path / "trial.keras"
    fitted.model.save(checkpoint)
    reloaded = keras.models.load_model(checkpoint)
    on_cache = task.predict(fitted.model, "val")
    np.testing.assert_allclose(task.predict(reloaded, "val"), on_cache, atol=1e-6)
    exported = task.export(reloaded)
    path = tmp_path / "model.keras"
    exported.save(path)
    loaded = keras.models.load_model(path)
    images = first_images(task.frames["val"], 32, len(task.frames["val"]))
    on_images = loaded.predict(images, verbose=0).reshape(-1)
    # float16 cached maps: the study's own export check allows 2e-3.
    np.testing.assert_allclose(on_images, on_cache, atol=2e-3)
    # The exported model's lower blocks are the cached trunk's: no weight below the cut moved.
    trunk = task.trunk_cache(2).extractor
    lower = {v.path: v.numpy() for v in trunk.get_layer("lower").weights}
    backbone = {v.path: v.numpy() for v in loaded.get_layer("features").get_layer("backbone").weights}
    shared = set(lower) & set(backbone)
    assert shared and all(np.array_equal(lower[p], backbone[p]) for p in shared)


@pytest.fixture
def registered(entry):
    """The tiny entry in the zoo's own registry for one test, so a real study can resolve it by name."""
    from deepfake_zoo import zoo

    zoo.register_model(entry.name, family=entry.family, input_size=32, frozen=False, preprocessing="tf",
                       block_pattern=entry.block_pattern, blocks=entry.blocks, trunk_cuts=(1, 2),
                       feature_layers=entry.feature_layers, search_space=SPACE)(_mobilenet)
    yield entry.name
    zoo.unregister_model(entry.name)


@pytest.mark.slow
def test_a_trunk_study_samples_only_the_declared_cuts_and_saves_a_model_for_images(registered, config_for):
    import json

    import pandas as pd

    from deepfake_zoo.search.study import run_model_search

    config = config_for(model=registered, trunk_cache=True, trials=2, epochs=1, weights="none", image_size=32)
    metrics = run_model_search(registered, config, log=lambda line: None)
    assert metrics["trunk_cache"] is True and metrics["trials"]["complete"] >= 1
    trials = pd.read_csv(f"{config.runs}/{registered}/trials.csv")
    assert set(trials["params_unfreeze_blocks"].dropna()) <= {1, 2}
    saved = keras.saving.load_model(f"{config.runs}/{registered}/model.keras")
    assert saved.input_shape == (None, 32, 32, 3)
    assert json.loads(open(f"{config.runs}/{registered}/metrics.json").read())["trunk_cache"] is True
