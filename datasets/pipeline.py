"""The tf.data input pipeline from the manifest: parallel decode, resize, optional cache, seeded augmentation, batches.

Every image comes out as raw RGB float32 in [0, 255] at the model's square size (resized by
`datasets.images.resize_for_model`, exactly as `predict` does), with a float32 label (0 real, 1 fake).

Augmentation is deterministic per image: each policy draws from stateless random ops keyed on (seed, the row's position
in its split), so the same (seed, row) gives the same augmented image whatever the parallelism, shuffling or batch
size. The search relies on this to precompute "augmented views" of the training set for frozen backbones.
"""
from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from deepfake_zoo.datasets.images import decode_rgb, resize_for_model

AUTOTUNE = tf.data.AUTOTUNE
# RandomRotation(0.2) in Keras means a fraction of a full turn: up to +-0.2 * 2 pi (+-72 degrees).
ROTATION_FACTOR = 0.2
# After a cache, the decoded images are shuffled within this many elements (the file list itself is shuffled once
# before caching), so memory stays bounded at large image sizes.
CACHED_SHUFFLE_BUFFER = 512


def _fold(seed: tf.Tensor, salt: int) -> tf.Tensor:
    return tf.random.experimental.stateless_fold_in(seed, salt)


def _as_unit(image: tf.Tensor) -> tf.Tensor:
    return image / 255.0


def _from_unit(image: tf.Tensor) -> tf.Tensor:
    return tf.clip_by_value(image * 255.0, 0.0, 255.0)


def flip(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Mirror left-right with probability 1/2 (faces are roughly symmetric; up-down flips are not realistic)."""
    return tf.image.stateless_random_flip_left_right(image, _fold(seed, 1))


def rotation(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Rotate by a uniform angle in +-0.2 full turns, reflecting at the borders: the notebook's RandomRotation(0.2)."""
    limit = ROTATION_FACTOR * 2.0 * math.pi
    angle = tf.random.stateless_uniform([], _fold(seed, 2), -limit, limit)
    h = tf.cast(tf.shape(image)[0], tf.float32)
    w = tf.cast(tf.shape(image)[1], tf.float32)
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Output pixel (x, y) samples input (cos*x - sin*y + dx, sin*x + cos*y + dy): a rotation about the centre.
    dx = ((w - 1) - (cos * (w - 1) - sin * (h - 1))) / 2.0
    dy = ((h - 1) - (sin * (w - 1) + cos * (h - 1))) / 2.0
    transform = tf.stack([cos, -sin, dx, sin, cos, dy, 0.0, 0.0])[None]
    rotated = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None], transforms=transform, output_shape=tf.shape(image)[:2], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="REFLECT")
    return tf.clip_by_value(rotated[0], 0.0, 255.0)


def flip_rotation(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """The notebook's augmentation: random horizontal flip, then RandomRotation(0.2)."""
    return rotation(flip(image, seed), seed)


def color(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Colour jitter: brightness +-0.1, contrast and saturation x0.8..1.2, hue +-0.03 (in 0..1 units)."""
    x = _as_unit(image)
    x = tf.image.stateless_random_brightness(x, 0.1, _fold(seed, 3))
    x = tf.image.stateless_random_contrast(x, 0.8, 1.2, _fold(seed, 4))
    x = tf.image.stateless_random_saturation(tf.clip_by_value(x, 0.0, 1.0), 0.8, 1.2, _fold(seed, 5))
    x = tf.image.stateless_random_hue(x, 0.03, _fold(seed, 6))
    return _from_unit(x)


def jpeg(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Re-compress as JPEG at a random quality 40..95: deepfakes in the wild are re-encoded, often more than once."""
    x = tf.image.stateless_random_jpeg_quality(tf.clip_by_value(_as_unit(image), 0.0, 1.0), 40, 95, _fold(seed, 7))
    x.set_shape(image.shape)
    return _from_unit(x)


def _reflect_matrix(n: tf.Tensor, kernel: tf.Tensor, radius: int) -> tf.Tensor:
    """The (n, n) matrix that convolves a length-n signal with `kernel`, reflecting at both ends."""
    index = tf.abs(tf.range(n)[:, None] + tf.range(-radius, radius + 1)[None, :])
    index = tf.clip_by_value(tf.where(index > n - 1, 2 * (n - 1) - index, index), 0, n - 1)
    return tf.reduce_sum(tf.one_hot(index, n) * kernel[None, :, None], axis=1)


def blur(image: tf.Tensor, seed: tf.Tensor, radius: int = 4) -> tf.Tensor:
    """Gaussian blur with a random sigma of 0.2..1.5 px (separable, reflected borders)."""
    sigma = tf.random.stateless_uniform([], _fold(seed, 8), 0.2, 1.5)
    taps = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-(taps**2) / (2.0 * sigma**2))
    kernel = kernel / tf.reduce_sum(kernel)
    # Two small matrix products beat depthwise convolution on CPU by ~2-3x for one image at a time.
    rows = _reflect_matrix(tf.shape(image)[0], kernel, radius)
    cols = _reflect_matrix(tf.shape(image)[1], kernel, radius)
    x = tf.einsum("ij,jwc->iwc", rows, image)
    x = tf.einsum("kw,iwc->ikc", cols, x)
    return tf.clip_by_value(x, 0.0, 255.0)


def _maybe(op: Callable, image: tf.Tensor, seed: tf.Tensor, salt: int, p: float = 0.5) -> tf.Tensor:
    coin = tf.random.stateless_uniform([], _fold(seed, salt))
    return tf.cond(coin < p, lambda: op(image, _fold(seed, salt + 100)), lambda: image)


def mixed(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Flip, then each of rotation, colour jitter, JPEG re-compression and blur with probability 1/2."""
    image = flip(image, seed)
    for salt, op in enumerate((rotation, color, jpeg, blur), start=20):
        image = _maybe(op, image, seed, salt)
    return image


def none(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """No augmentation."""
    return image


AUGMENTATIONS: dict[str, Callable[[tf.Tensor, tf.Tensor], tf.Tensor]] = {
    "none": none,
    "flip": flip,
    "rotation": rotation,
    "flip_rotation": flip_rotation,
    "color": color,
    "jpeg": jpeg,
    "blur": blur,
    "mixed": mixed,
}


# The policies a hyperparameter search chooses from (zoo entries declare these in their search spaces). A frozen
# backbone's feature cache holds one backbone pass over the training set per policy, so it gets only the cheap few;
# "flip_rotation" and "mixed" are for training by hand.
SEARCHED_AUGMENTATIONS = ("none", "flip", "rotation", "color", "jpeg", "blur")
FROZEN_AUGMENTATIONS = ("none", "flip", "rotation")


def augment_names() -> list[str]:
    """The augmentation policy names `make_dataset(augment=...)` accepts, "none" first."""
    return list(AUGMENTATIONS)


def _check_policy(augment: str) -> Callable:
    if augment not in AUGMENTATIONS:
        close = difflib.get_close_matches(str(augment), AUGMENTATIONS, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ValueError(f"unknown augmentation '{augment}': {hint}choose one of {', '.join(AUGMENTATIONS)}")
    return AUGMENTATIONS[augment]


def make_dataset(df: pd.DataFrame, split: str, image_size: int, batch_size: int = 32, augment: str = "none",
                 shuffle: bool | None = None, seed: int = 0, cache: bool | str | Path = False) -> tf.data.Dataset:
    """Batches of (images float32 [b, s, s, 3] in 0..255, labels float32 [b]) for one split of a manifest.

    `shuffle=None` shuffles only the train split (seeded, reshuffled each epoch). `augment` is applied whenever it is
    not "none" (the caller passes it for training only); it is keyed on (seed, row position in the split), so
    `shuffle=False` gives rows in manifest order and the same augmented pixels on every call. `cache=True` caches
    decoded, resized images in memory (a str/Path caches to that file prefix); mind memory at large sizes.
    Raises ValueError for an unknown policy or a split with no rows.

    >>> ds = make_dataset(load_manifest(), "train", 128, augment="flip_rotation")  # doctest: +SKIP
    >>> images, labels = next(iter(ds))  # doctest: +SKIP
    """
    policy = _check_policy(augment)
    rows = df[df["split"] == split]
    if rows.empty:
        raise ValueError(f"split '{split}' has no rows in the manifest (splits present: "
                         f"{sorted(set(df['split']))}): rebuild it with `make data` or pick another split")
    n = len(rows)
    paths = rows["path"].astype(str).to_numpy()
    labels = rows["label"].to_numpy(dtype=np.float32)
    positions = np.arange(n, dtype=np.int64)
    shuffle = (split == "train") if shuffle is None else bool(shuffle)

    ds = tf.data.Dataset.from_tensor_slices((paths, labels, positions))
    if shuffle:
        # Shuffling paths (not pixels) lets the whole split be one buffer at no memory cost.
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=not cache)

    def load(path, label, position):
        image = resize_for_model(decode_rgb(tf.io.read_file(path)), image_size)
        return image, label, position

    ds = ds.map(load, num_parallel_calls=AUTOTUNE, deterministic=True)
    if cache:
        ds = ds.cache("" if cache is True else str(cache))
        if shuffle:
            ds = ds.shuffle(min(n, CACHED_SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=True)
    if augment != "none":
        base = tf.constant(int(seed), tf.int64)

        def apply(image, label, position):
            key = tf.stack([base, position])
            out = policy(image, key)
            out.set_shape([image_size, image_size, 3])
            return out, label, position

        ds = ds.map(apply, num_parallel_calls=AUTOTUNE, deterministic=True)
    ds = ds.map(lambda image, label, position: (image, label), num_parallel_calls=AUTOTUNE, deterministic=True)
    return ds.batch(batch_size).prefetch(AUTOTUNE)
