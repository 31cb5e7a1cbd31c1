"""The tf.data pipeline: batches, shuffling, caching and seeded per-row augmentation."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from deepfake_zoo.datasets.images import load_for_model
from deepfake_zoo.datasets.manifest import build_manifest, load_manifest
from deepfake_zoo.datasets.pipeline import AUGMENTATIONS, augment_names, make_dataset
from imagefiles import make_folder_dataset

SIZE = 16


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("pipeline")
    data = make_folder_dataset(root / "set", {(None, "Real"): 20, (None, "Fake"): 20})
    build_manifest(data, root / "m.csv", seed=0)
    return load_manifest(root / "m.csv")


@pytest.fixture(scope="module")
def plain(manifest) -> np.ndarray:
    """The train split un-augmented, in manifest order."""
    return _collect(make_dataset(manifest, "train", SIZE, shuffle=False))[0]


def _collect(ds) -> tuple[np.ndarray, np.ndarray]:
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(images), np.concatenate(labels)


def test_batches_are_raw_rgb_in_manifest_order_when_not_shuffled(manifest):
    val = manifest[manifest.split == "val"]
    images, labels = _collect(make_dataset(manifest, "val", SIZE, batch_size=4))
    assert images.dtype == np.float32 and labels.dtype == np.float32
    assert images.shape == (len(val), SIZE, SIZE, 3)
    assert 0.0 <= images.min() and images.max() <= 255.0 and images.max() > 1.0
    np.testing.assert_array_equal(labels, val.label.to_numpy(dtype=np.float32))
    expected = np.stack([load_for_model(p, SIZE) for p in val.path])
    np.testing.assert_allclose(images, expected, atol=1e-3)


def test_train_is_shuffled_by_default_and_seeded(manifest, plain):
    train = manifest[manifest.split == "train"]
    shuffled, _ = _collect(make_dataset(manifest, "train", SIZE, seed=1))
    again, _ = _collect(make_dataset(manifest, "train", SIZE, seed=1))
    other, _ = _collect(make_dataset(manifest, "train", SIZE, seed=2))
    assert len(plain) == len(train)
    sums = lambda a: a.reshape(len(a), -1).sum(axis=1)  # noqa: E731 - one image's fingerprint
    assert not np.array_equal(sums(plain), sums(shuffled))
    np.testing.assert_allclose(np.sort(sums(plain)), np.sort(sums(shuffled)), rtol=1e-6)
    np.testing.assert_array_equal(shuffled, again)
    assert not np.array_equal(shuffled, other)


def test_policy_names_and_unknown_policy(manifest):
    assert augment_names()[0] == "none"
    assert {"none", "flip", "rotation", "flip_rotation", "color", "jpeg", "blur"} <= set(AUGMENTATIONS)
    with pytest.raises(ValueError, match="did you mean 'flip'"):
        make_dataset(manifest, "train", SIZE, augment="flpi")
    with pytest.raises(ValueError, match="no rows"):
        make_dataset(manifest[manifest.split != "test"], "test", SIZE)


def test_the_policies_have_one_definition_that_the_zoo_reuses():
    from deepfake_zoo.datasets import pipeline
    from deepfake_zoo.zoo import search_space

    # One name, one meaning: the zoo's AUGMENTATIONS is the pipeline's, not a list of its own that can drift.
    assert search_space.AUGMENTATIONS is pipeline.AUGMENTATIONS
    assert search_space.FROZEN_AUGMENTATIONS is pipeline.FROZEN_AUGMENTATIONS
    assert set(pipeline.FROZEN_AUGMENTATIONS) <= set(pipeline.SEARCHED_AUGMENTATIONS) <= set(pipeline.AUGMENTATIONS)
    assert search_space.standard_space(frozen=False)["augment"].choices == pipeline.SEARCHED_AUGMENTATIONS
    assert search_space.standard_space(frozen=True)["augment"].choices == pipeline.FROZEN_AUGMENTATIONS


@pytest.mark.parametrize("policy", [name for name in AUGMENTATIONS if name != "none"])
def test_augmentation_is_keyed_on_seed_and_row_not_on_batching_or_order(manifest, plain, policy):
    first, labels = _collect(make_dataset(manifest, "train", SIZE, batch_size=5, augment=policy, shuffle=False,
                                          seed=7))
    second, _ = _collect(make_dataset(manifest, "train", SIZE, batch_size=13, augment=policy, shuffle=False, seed=7))
    other, _ = _collect(make_dataset(manifest, "train", SIZE, augment=policy, shuffle=False, seed=8))
    shuffled, _ = _collect(make_dataset(manifest, "train", SIZE, augment=policy, shuffle=True, seed=7))
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(labels, manifest[manifest.split == "train"].label.to_numpy(np.float32))
    assert not np.array_equal(first, other)
    assert not np.array_equal(first, plain)
    assert first.dtype == np.float32 and first.min() >= 0.0 and first.max() <= 255.0
    # Shuffling changes the order, not which augmented image a row gets.
    fingerprint = lambda a: np.sort(a.reshape(len(a), -1).sum(axis=1))  # noqa: E731
    np.testing.assert_allclose(fingerprint(first), fingerprint(shuffled), rtol=1e-5)


def test_each_policy_does_what_it_says(manifest, plain):
    flipped, _ = _collect(make_dataset(manifest, "train", SIZE, augment="flip", shuffle=False, seed=3))
    mirrored = [np.array_equal(f, p[:, ::-1]) for f, p in zip(flipped, plain)]
    untouched = [np.array_equal(f, p) for f, p in zip(flipped, plain)]
    assert all(m or u for m, u in zip(mirrored, untouched)) and any(mirrored) and any(untouched)

    def high_frequency(images):
        return float(np.abs(np.diff(images, axis=1)).mean() + np.abs(np.diff(images, axis=2)).mean())

    blurred, _ = _collect(make_dataset(manifest, "train", SIZE, augment="blur", shuffle=False))
    assert high_frequency(blurred) < 0.8 * high_frequency(plain)
    recompressed, _ = _collect(make_dataset(manifest, "train", SIZE, augment="jpeg", shuffle=False))
    assert 0.5 < np.abs(recompressed - plain).mean() < 40
    jittered, _ = _collect(make_dataset(manifest, "train", SIZE, augment="color", shuffle=False))
    assert np.abs(jittered.mean(axis=(1, 2)) - plain.mean(axis=(1, 2))).max() > 2.0
    rotated, _ = _collect(make_dataset(manifest, "train", SIZE, augment="rotation", shuffle=False))
    # Rotation moves pixels but, with reflected borders, keeps the image's overall brightness roughly the same.
    assert np.abs(rotated - plain).mean() > 5.0
    assert np.abs(rotated.mean(axis=(1, 2, 3)) - plain.mean(axis=(1, 2, 3))).max() < 40.0


def test_cache_in_memory_and_on_disk_give_the_same_batches(manifest, tmp_path):
    reference, _ = _collect(make_dataset(manifest, "val", SIZE))
    ds = make_dataset(manifest, "val", SIZE, cache=True)
    np.testing.assert_array_equal(_collect(ds)[0], reference)
    np.testing.assert_array_equal(_collect(ds)[0], reference)
    on_disk = make_dataset(manifest, "val", SIZE, cache=tmp_path / "val_cache")
    np.testing.assert_array_equal(_collect(on_disk)[0], reference)
    assert any(tmp_path.iterdir())
    train = make_dataset(manifest, "train", SIZE, cache=True, seed=4)
    epoch_one, epoch_two = _collect(train)[0], _collect(train)[0]
    assert epoch_one.shape == epoch_two.shape and not np.array_equal(epoch_one, epoch_two)


def test_blur_matches_scipy_and_rotation_turns_about_the_centre():
    from scipy.ndimage import correlate1d

    from deepfake_zoo.datasets.pipeline import blur, rotation

    image = np.random.default_rng(0).uniform(0, 255, (17, 13, 3)).astype(np.float32)
    key = tf.constant([5, 9], tf.int64)
    sigma = float(tf.random.stateless_uniform([], tf.random.experimental.stateless_fold_in(key, 8), 0.2, 1.5))
    kernel = np.exp(-np.arange(-4, 5) ** 2 / (2 * sigma**2))
    kernel /= kernel.sum()
    # scipy's "mirror" is TensorFlow's REFLECT: the edge pixel is not repeated.
    expected = correlate1d(correlate1d(image, kernel, axis=0, mode="mirror"), kernel, axis=1, mode="mirror")
    np.testing.assert_allclose(blur(tf.constant(image), key).numpy(), np.clip(expected, 0, 255), atol=1e-3)

    square = image[:13]
    turned = rotation(tf.constant(square), key).numpy()
    np.testing.assert_allclose(turned[6, 6], square[6, 6], atol=1e-3)
    assert np.abs(turned - square).mean() > 5.0
