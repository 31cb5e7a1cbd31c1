"""Frozen-backbone heads: every view is loaded before the first trial, and the resident-tensor epoch really trains."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from deepfake_zoo import zoo
from deepfake_zoo.datasets.manifest import load_manifest
from deepfake_zoo.search.study import prepare, select_rows
from deepfake_zoo.search.training import FrozenTask, head_epoch_function
from graphs import live_graphs

HP = {"learning_rate": 1e-2, "head_units": 8, "dropout": 0.0}


def _separable(n=600, d=12, seed=0):
    """Two Gaussian blobs, label 1 shifted along every axis: a head that learns must separate them."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.float32)
    x = rng.normal(size=(n, d)).astype(np.float32) + 1.5 * y[:, None]
    return tf.constant(x), tf.constant(y)


def _head(d, seed=0):
    keras.utils.set_random_seed(seed)
    head = zoo.get_model("tiny_search_frozen").build_head(d, HP)
    zoo.compile_model(head, HP)
    return head


def test_epoch_function_learns_and_updates_batchnorm():
    x, y = _separable()
    head = _head(int(x.shape[1]))
    run = head_epoch_function(head)
    before = keras.ops.convert_to_numpy(head(x, training=False)).reshape(-1)
    moving_mean = head.get_layer("head_norm").moving_mean.numpy().copy()
    losses = [float(run(x, y, tf.constant(64), tf.constant([0, e]))) for e in range(5)]
    after = keras.ops.convert_to_numpy(head(x, training=False)).reshape(-1)
    labels = y.numpy()
    accuracy = lambda p: float(np.mean((p >= 0.5) == (labels > 0.5)))  # noqa: E731
    assert losses[-1] < losses[0] * 0.7, losses
    assert accuracy(after) > 0.85 and accuracy(after) > accuracy(before)
    # training=True inside the traced loop must move BatchNorm's statistics, or inference would use the init values.
    assert not np.allclose(head.get_layer("head_norm").moving_mean.numpy(), moving_mean)


def test_epoch_function_is_seeded():
    x, y = _separable()

    def weights_after(seed):
        head = _head(int(x.shape[1]))
        head_epoch_function(head)(x, y, tf.constant(50), tf.constant(seed))
        return [w.copy() for w in head.get_weights()]

    same = weights_after([0, 0]), weights_after([0, 0])
    other = weights_after([0, 1])
    assert all(np.array_equal(a, b) for a, b in zip(*same))
    assert not all(np.array_equal(a, b) for a, b in zip(same[0], other))


def test_every_view_is_loaded_before_the_first_trial(config_for):
    config = config_for(trials=2, epochs=3, augment_views=2)
    task = prepare("tiny_search_frozen", config, log=lambda _: None, engine="optuna").task
    assert isinstance(task, FrozenTask)
    # val, test, train clean, and one augmented train view for "flip" (the tiny space's only other policy).
    assert task.cache.misses == 4 and task.cache.hits == 0
    looked_up = task.cache.hits + task.cache.misses
    for augment in task.policies():
        task.fit({**HP, "augment": augment}, epochs=3, patience=3)
    assert task.cache.hits + task.cache.misses == looked_up  # no trial touched the cache again


def test_views_are_held_at_half_precision_and_score_as_the_float32_features_do(config_for):
    config = config_for(trials=1, epochs=2)
    task = prepare("tiny_search_frozen", config, log=lambda _: None, engine="optuna").task
    assert {v.dtype for v in task._features.values()} == {tf.float16}
    fitted = task.fit(HP, epochs=2, patience=2)
    on_disk = task.cache.features(task.frames["val"], "val")
    assert on_disk.dtype == np.float32  # the cache itself keeps full precision
    full = keras.ops.convert_to_numpy(fitted.model(on_disk, training=False)).reshape(-1)
    np.testing.assert_allclose(task.predict(fitted.model, "val"), full, atol=2e-3)


def test_dry_run_loads_no_view(config_for):
    task = prepare("tiny_search_frozen", config_for(dry_run=True), log=lambda _: None, engine="optuna").task
    assert task.cache.hits + task.cache.misses == 0


def test_augmented_epochs_train_on_their_view(config_for, monkeypatch):
    config = config_for(augment_views=2)
    entry = zoo.get_model("tiny_search_frozen")
    frame = select_rows(load_manifest(config.manifest), config)
    task = FrozenTask(entry, frame, 32, "none", config.batch_size, 0, config.cache_dir, 2)
    task.preload()
    seen = []
    real = head_epoch_function

    def recording(model):
        run = real(model)

        def wrapped(x, *args):
            seen.append(next(k for k, v in task._features.items() if v is x))
            return run(x, *args)
        return wrapped

    monkeypatch.setattr("deepfake_zoo.search.training.head_epoch_function", recording)
    task.fit({**HP, "augment": "flip"}, epochs=4, patience=4)
    assert seen == [("train", "none", 0), ("train", "flip", 1)] * 2


@pytest.mark.parametrize("n, expected", [(100, 64), (22_438, 224), (200_000, 512)])
def test_head_batch_grows_with_the_data(config_for, n, expected):
    config = config_for()
    entry = zoo.get_model("tiny_search_frozen")
    frame = select_rows(load_manifest(config.manifest), config)
    task = FrozenTask(entry, frame, 32, "none", 32, 0, config.cache_dir, 1)
    assert task.batch_for(n) == expected


def test_head_trials_leave_no_graph_behind(config_for):
    """Each head trial traces its own epoch function; the reset between trials must free it (flat over a study)."""
    task = prepare("tiny_search_frozen", config_for(augment_views=2), log=lambda _: None, engine="optuna").task
    counts = []
    for trial, units in enumerate((4, 8, 12, 16)):
        zoo.reset_session(trial)
        counts.append(live_graphs())
        task.fit({**HP, "head_units": units, "augment": "flip"}, epochs=2, patience=2)
    zoo.reset_session(0)
    counts.append(live_graphs())
    assert counts[1:] == [counts[1]] * (len(counts) - 1), counts
