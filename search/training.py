"""How one configuration trains: on cached features for frozen backbones, on images otherwise; selected on validation."""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from deepfake_zoo import zoo
from deepfake_zoo.datasets.pipeline import make_dataset
from deepfake_zoo.search.features import FeatureCache
from deepfake_zoo.zoo import assembly
from deepfake_zoo.zoo.search_space import Categorical

SPLITS = ("train", "val", "test")
HEAD_BATCH_SIZE = 64
HEAD_MAX_BATCH_SIZE = 512
HEAD_STEPS_PER_EPOCH = 100


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(roc_auc_score(labels, scores))


def _log_loss(labels: np.ndarray, scores: np.ndarray) -> float:
    p = np.clip(scores, 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


@dataclass
class Fitted:
    """A trained model with its best validation score, the epoch it came from and the per-epoch curves."""

    model: keras.Model
    best_value: float
    best_epoch: int
    history: dict[str, list[float]]


class Task:
    """One zoo entry on one split manifest: builds models from hyperparameters, trains an epoch, predicts a split."""

    def __init__(self, entry, frame: pd.DataFrame, image_size: int, weights: str, batch_size: int, seed: int,
                 xla: bool = False):
        self.entry = entry
        self.xla = xla
        self.frames = {s: frame[frame["split"] == s].reset_index(drop=True) for s in SPLITS}
        for split, part in self.frames.items():
            if part.empty:
                raise ValueError(f"the manifest has no {split!r} rows for this search; rebuild it with `make data`")
        self.image_size = image_size
        self.weights = weights
        self.batch_size = batch_size
        self.seed = seed

    @property
    def search_space(self) -> dict:
        """The hyperparameters a study samples for this task: the entry's declared space."""
        return self.entry.search_space

    def labels(self, split: str) -> np.ndarray:
        return self.frames[split]["label"].to_numpy(dtype=np.float32)

    def build(self, hp: dict) -> keras.Model:
        raise NotImplementedError

    def train_epoch(self, model: keras.Model, hp: dict, epoch: int) -> float:
        raise NotImplementedError

    def predict(self, model: keras.Model, split: str) -> np.ndarray:
        raise NotImplementedError

    def export(self, model: keras.Model) -> keras.Model:
        """The model to save: raw RGB in, P(fake) out."""
        return model

    def images_to_train(self, hp: dict) -> int:
        return len(self.frames["train"])

    def end_fit(self) -> None:
        """Let go of whatever training one model traced, so the next trial's reset can free it."""

    def feature_extractor(self) -> keras.Model | None:
        """The frozen backbone whose features a cached task trains on (None: this task trains on images)."""
        return None

    def cache_counts(self) -> dict | None:
        """Feature-cache hits and misses so far, for metrics.json (None: this task has no cache)."""
        return None

    def preload(self) -> str | None:
        """Load what every trial will need before the first one; returns what was done, for the log (None: nothing)."""
        return None

    def fit(self, hp: dict, epochs: int, patience: int,
            report: Callable[[int, float], None] | None = None) -> Fitted:
        """Train up to `epochs`, keep the weights of the best validation-AUC epoch, stop after `patience` flat epochs.

        `report(epoch, value)` is called after every epoch and may raise (Optuna's TrialPruned) to stop early.
        """
        model = self.build(hp)
        val_labels = self.labels("val")
        history: dict[str, list[float]] = {"loss": [], "val_loss": [], "val_roc_auc": [], "val_accuracy": []}
        best_value, best_epoch, best_weights = -math.inf, -1, None
        try:
            for epoch in range(epochs):
                history["loss"].append(self.train_epoch(model, hp, epoch))
                scores = self.predict(model, "val")
                value = _auc(val_labels, scores)
                history["val_loss"].append(_log_loss(val_labels, scores))
                history["val_roc_auc"].append(value)
                history["val_accuracy"].append(float(np.mean((scores >= 0.5) == (val_labels > 0.5))))
                if value > best_value or best_weights is None:
                    best_value, best_epoch, best_weights = value, epoch, model.get_weights()
                if report is not None:
                    report(epoch, value)
                if epoch - best_epoch >= patience:
                    break
        finally:
            self.end_fit()
        model.set_weights(best_weights)
        return Fitted(model=model, best_value=float(best_value), best_epoch=best_epoch, history=history)


class ImageTask(Task):
    """Trains the whole model on images every epoch: the custom CNN and fine-tuned backbones."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._eval_data: dict = {}

    def build(self, hp: dict) -> keras.Model:
        model = self.entry.build(hp, image_size=self.image_size, weights=self.weights)
        zoo.compile_model(model, hp)
        # Explicit either way: Keras's "auto" would turn XLA on by itself on a GPU; here it is an opt-in (--xla).
        model.jit_compile = self.xla
        return model

    def _data(self, split: str, augment: str = "none", seed: int = 0):
        if split != "train":
            # Evaluation data never changes: build it once so predict is not retraced every epoch.
            key = (split, self.image_size)
            if key not in self._eval_data:
                self._eval_data[key] = make_dataset(self.frames[split], split, self.image_size,
                                                    batch_size=self.batch_size, shuffle=False)
            return self._eval_data[key]
        return make_dataset(self.frames[split], split, self.image_size, batch_size=self.batch_size,
                            augment=augment, shuffle=True, seed=seed)

    def train_epoch(self, model: keras.Model, hp: dict, epoch: int) -> float:
        data = self._data("train", hp.get("augment", "none"), seed=self.seed * 1000 + epoch)
        out = model.fit(data, epochs=1, shuffle=False, verbose=0)  # the dataset shuffles itself, seeded
        return float(out.history["loss"][-1])

    def predict(self, model: keras.Model, split: str) -> np.ndarray:
        return np.asarray(model.predict(self._data(split), verbose=0), dtype=np.float32).reshape(-1)


# Cached views are held in memory at half precision and widened to float32 by the head's first layer, batch by
# batch: a full-data MobileNetV2 study holds five views of 12,448 values an image, 3.8 GB in float32. float16 keeps
# about three significant digits, far finer than anything a head trained for a few epochs responds to.
FEATURES_IN_MEMORY = np.float16


class FrozenTask(Task):
    """Trains only the head on cached backbone features; augmentation comes from a few precomputed views per image.

    Every view lives in memory once, as a float16 tensor, from `preload()` (before the first trial) to the end of the
    study: trials read it in place and add no copy of their own. The disk cache stays float32.
    """

    def __init__(self, entry, frame, image_size, weights, batch_size, seed, cache_dir: str | Path, views: int):
        # No XLA: the head's epoch loop slices batches of a size known only at run time, which XLA cannot compile.
        super().__init__(entry, frame, image_size, weights, batch_size, seed, xla=False)
        self.extractor = entry.build_feature_extractor(image_size=image_size, weights=weights)
        self.cache = FeatureCache(Path(cache_dir), entry.name, image_size, self.extractor)
        self.views = views
        self._features: dict[tuple[str, str, int], tf.Tensor] = {}
        self._train_labels = tf.constant(self.labels("train"))
        self._epoch_fn: tuple[keras.Model, Callable] | None = None

    def features(self, split: str, augment: str = "none", view: int = 0) -> tf.Tensor:
        """Features of one view: view 0 is always the clean image, views 1.. are seeded augmented copies.

        Sharing view 0 with the un-augmented policy means a policy with V views costs V - 1 extra backbone passes
        over the training set, and training on view `epoch % V` applies the augmentation in (V - 1) of V epochs.
        """
        if view == 0:
            augment = "none"
        key = (split, augment, view)
        if key not in self._features:
            seed = self.seed * 1000 + view
            array = self.cache.features(self.frames[split], split, augment=augment, seed=seed)
            held = array.astype(FEATURES_IN_MEMORY)
            del array  # the float32 copy goes now, before the next view is read
            if not np.isfinite(held).all():
                raise ValueError(f"{self.entry.name}'s cached {split} features do not fit float16 (a value beyond "
                                 "+-65504, or not finite): its pooled features need a normalising layer")
            self._features[key] = tf.convert_to_tensor(held)
        return self._features[key]

    def policies(self) -> list[str]:
        """The augmentation policies a trial of this entry's search space can ask for."""
        space = self.entry.search_space.get("augment")
        return sorted(set(getattr(space, "choices", ("none",))) | {"none"})

    def views_for(self, augment: str) -> int:
        return 1 if augment == "none" else self.views

    def train_views(self) -> list[tuple[str, int]]:
        """Every (augment, view) of the training split a trial can ask for; view 0 is the one clean view all share."""
        views = {("none" if view == 0 else policy, view)
                 for policy in self.policies() for view in range(self.views_for(policy))}
        return sorted(views, key=lambda v: (v[1], v[0]))

    def feature_extractor(self) -> keras.Model:
        return self.extractor

    def cache_counts(self) -> dict:
        return {"hits": self.cache.hits, "misses": self.cache.misses}

    def preload(self) -> str:
        """Load (computing once, on a cold cache) every view any trial can ask for, so no trial pays for one."""
        for split in ("val", "test"):
            self.features(split)
        for augment, view in self.train_views():
            self.features("train", augment, view)
        return f"{self.cache.hits} view(s) read from disk, {self.cache.misses} computed"

    def build(self, hp: dict) -> keras.Model:
        dim = self.features("val").shape[1]
        head = self.entry.build_head(dim, hp)
        zoo.compile_model(head, hp)
        return head

    def batch_for(self, n: int) -> int:
        """Heads on cached vectors are cheap per example and overhead-bound per step: batches grow with the data
        (about HEAD_STEPS_PER_EPOCH steps an epoch) so a trial stays seconds on a CPU, while small data keeps small
        batches and enough steps to learn in the few epochs a search affords."""
        return int(np.clip(n // HEAD_STEPS_PER_EPOCH, max(self.batch_size, HEAD_BATCH_SIZE), HEAD_MAX_BATCH_SIZE))

    def train_epoch(self, model: keras.Model, hp: dict, epoch: int) -> float:
        augment = hp.get("augment", "none")
        # Each epoch sees one view, clean or augmented in turn, at the cost of a dictionary lookup.
        x = self.features("train", augment, epoch % self.views_for(augment))
        if self._epoch_fn is None or self._epoch_fn[0] is not model:
            self._epoch_fn = (model, head_epoch_function(model))
        loss = self._epoch_fn[1](x, self._train_labels, tf.constant(self.batch_for(int(x.shape[0])), tf.int32),
                                 tf.constant([self.seed, epoch], tf.int32))
        return float(loss)

    def end_fit(self) -> None:
        self._epoch_fn = None

    def predict(self, model: keras.Model, split: str) -> np.ndarray:
        x = self.features(split)
        # A direct call on big chunks: `predict` would trace a new function for every trial's fresh head, which
        # costs more than scoring thousands of cached vectors.
        n = int(x.shape[0])
        chunks = [keras.ops.convert_to_numpy(model(x[i:i + 8192], training=False)) for i in range(0, n, 8192)]
        return np.concatenate(chunks).astype(np.float32).reshape(-1)

    def export(self, model: keras.Model) -> keras.Model:
        return self.entry.assemble(self.extractor, model)

    def images_to_train(self, hp: dict) -> int:
        return 0


class TrunkTask(FrozenTask):
    """Fine-tunes the last k blocks plus the head from cached trunk activations instead of images.

    Everything below the cut (the entry's `cut_choices`: "all blocks but the last k") is frozen with BatchNorm in
    inference mode, exactly as in fine-tuning on images, so its output for each image and view is computed once
    and cached in `dtype` (float16 by default: half the memory, validation AUC unchanged within noise as measured
    on MobileNetV2; keyed like pooled features, plus the cut). A trial builds a fresh backbone, trains its
    last k blocks (BatchNorm as in fine-tuning) and the head on the cached maps with `head_epoch_function`, and
    exports raw RGB -> preprocessing -> lower -> upper -> head with the trained weights in place.
    A trial's `unfreeze_blocks` picks k; a value that is not one of the choices takes the nearest one.
    """

    def __init__(self, entry, frame, image_size, weights, batch_size, seed, cache_dir: str | Path, views: int,
                 dtype: str = "float16"):
        Task.__init__(self, entry, frame, image_size, weights, batch_size, seed)
        self.dtype = dtype
        if not entry.cut_choices:
            raise ValueError(f"{entry.name} declares no blocks (block_pattern=), so it cannot fine-tune from a "
                             "cached trunk: train it on images")
        self.cache_dir = Path(cache_dir)
        self.views = views
        self._trunks: dict[int, FeatureCache] = {}
        self._features: dict[tuple, tf.Tensor] = {}
        self._train_labels = tf.constant(self.labels("train"))
        self._epoch_fn: tuple[keras.Model, Callable] | None = None

    @property
    def search_space(self) -> dict:
        """The entry's space with `unfreeze_blocks` over the cut choices only: what a trunk study should sample."""
        return {**self.entry.search_space, "unfreeze_blocks": Categorical(tuple(self.entry.cut_choices))}

    def cut_for(self, hp: dict) -> int:
        """k, the number of last blocks a trial trains: its unfreeze_blocks snapped to the entry's cut choices."""
        want = int(hp.get("unfreeze_blocks", self.entry.cut_choices[0]))
        return min(self.entry.cut_choices, key=lambda k: (abs(k - want), k))

    def trunk_cache(self, k: int) -> FeatureCache:
        if k not in self._trunks:
            trunk, split = self.entry.build_trunk(k, image_size=self.image_size, weights=self.weights)
            self._trunks[k] = FeatureCache(self.cache_dir, self.entry.name, self.image_size, trunk,
                                           wiring=f"trunk:{k}:{split.cut_layer}", dtype=self.dtype)
        return self._trunks[k]

    @property
    def cache(self) -> FeatureCache:
        return self.trunk_cache(self.entry.cut_choices[0])

    @property
    def extractor(self) -> keras.Model:
        """The trunk of the first cut: raw RGB -> cached vector (what the study's estimate times per image)."""
        return self.cache.extractor

    def features(self, split: str, augment: str = "none", view: int = 0, k: int | None = None) -> tf.Tensor:
        k = self.entry.cut_choices[0] if k is None else k
        if view == 0:
            augment = "none"
        key = (k, split, augment, view)
        if key not in self._features:
            array = self.trunk_cache(k).features(self.frames[split], split, augment=augment,
                                                 seed=self.seed * 1000 + view)
            self._features[key] = tf.convert_to_tensor(array)
        return self._features[key]

    def preload(self) -> str:
        for k in self.entry.cut_choices:
            for split in ("val", "test"):
                self.features(split, k=k)
            for augment, view in self.train_views():
                self.features("train", augment, view, k=k)
        hits = sum(c.hits for c in self._trunks.values())
        misses = sum(c.misses for c in self._trunks.values())
        return f"{hits} trunk view(s) read from disk, {misses} computed"

    def build(self, hp: dict) -> keras.Model:
        k = self.cut_for(hp)
        _, split = self.entry.build_trunk(k, image_size=self.image_size, weights=self.weights)
        model = assembly.build_upper_model(self.entry, split, self.entry.hparams(hp))
        zoo.compile_model(model, hp)
        return model

    def cut_of(self, model: keras.Model) -> int:
        """k of a trial model, from its name (it survives a checkpoint's save and load, an attribute would not)."""
        match = re.search(r"_trunk(\d+)$", model.name)
        if match is None or int(match.group(1)) not in self.entry.cut_choices:
            raise ValueError(f"model {model.name!r} is not a cached-trunk trial model of {self.entry.name}: "
                             "pass one built by this task")
        return int(match.group(1))

    def batch_for(self, n: int) -> int:
        # Upper blocks are real convolutions, not a cheap head: the configured batch size, as on images.
        return self.batch_size

    def train_epoch(self, model: keras.Model, hp: dict, epoch: int) -> float:
        augment = hp.get("augment", "none")
        x = self.features("train", augment, epoch % self.views_for(augment), k=self.cut_of(model))
        if self._epoch_fn is None or self._epoch_fn[0] is not model:
            self._epoch_fn = (model, head_epoch_function(model))
        loss = self._epoch_fn[1](x, self._train_labels, tf.constant(self.batch_for(int(x.shape[0])), tf.int32),
                                 tf.constant([self.seed, epoch], tf.int32))
        return float(loss)

    def predict(self, model: keras.Model, split: str) -> np.ndarray:
        x = self.features(split, k=self.cut_of(model))
        n = int(x.shape[0])
        step = max(self.batch_size, 256)
        chunks = [keras.ops.convert_to_numpy(model(x[i:i + step], training=False)) for i in range(0, n, step)]
        return np.concatenate(chunks).astype(np.float32).reshape(-1)

    def export(self, model: keras.Model) -> keras.Model:
        """Raw RGB -> preprocessing -> lower (frozen) -> upper -> head, with `model`'s trained weights copied in.

        Works on a reloaded checkpoint too: a fresh backbone is built and the trial's upper blocks' weights set on
        it, so nothing depends on the object that trained.
        """
        k = self.cut_of(model)
        _, split = self.entry.build_trunk(k, image_size=self.image_size, weights=self.weights)
        split.upper.set_weights(model.get_layer("backbone").get_weights())
        return assembly.export_trunk_model(self.entry, split, model.get_layer("head"), self.image_size,
                                           self.trunk_cache(k).extractor.zoo_weights)

    def images_to_train(self, hp: dict) -> int:
        return 0


def head_epoch_function(model: keras.Model) -> Callable:
    """One epoch of a compiled model's optimizer and loss over in-memory tensors, as one traced TensorFlow function.

    `fit` pays Python and input-pipeline overhead on every step; for a head on cached vectors a step is so cheap that
    the overhead is most of the epoch (measured on this CPU: ~1.2 s instead of ~2.7 s an epoch over 22,438 vectors of
    2,192). The returned `run(x, y, batch, seed)` shuffles with a stateless seed (same seed, same order), steps
    through mini-batches with the model's own optimizer, loss and regularisation losses, and returns the mean batch
    loss. Runs wherever TensorFlow places it, GPU included. Each model traces its own; `zoo.reset_session` between
    trials frees them.
    """
    optimizer, loss_fn = model.optimizer, model.loss
    variables = model.trainable_variables
    if not optimizer.built:
        optimizer.build(variables)  # slots must exist before tracing: a tf.function may not create variables later

    @tf.function
    def run(x, y, batch, seed):
        n = tf.shape(x)[0]
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=seed)
        steps = (n + batch - 1) // batch
        total = tf.constant(0.0)
        for step in tf.range(steps):
            rows = order[step * batch:(step + 1) * batch]
            with tf.GradientTape() as tape:
                loss = loss_fn(tf.gather(y, rows)[:, None], model(tf.gather(x, rows), training=True))
                if model.losses:
                    loss += tf.add_n(model.losses)
            # scale_loss is the identity in float32 and the loss scale under mixed precision's LossScaleOptimizer.
            grads = tape.gradient(optimizer.scale_loss(loss), variables)
            optimizer.apply_gradients(zip(grads, variables))
            total += loss
        return total / tf.cast(steps, tf.float32)

    return run


def make_task(entry, frame: pd.DataFrame, image_size: int, weights: str, config) -> Task:
    """A feature-cached task for frozen backbones, a trunk-cached one for fine-tunes under `config.trunk_cache`,
    an image task for everything else that trains its convolutions."""
    if entry.finetune and getattr(config, "trunk_cache", False):
        return TrunkTask(entry, frame, image_size, weights, config.batch_size, config.seed,
                         config.cache_dir, config.augment_views)
    if entry.frozen:
        return FrozenTask(entry, frame, image_size, weights, config.batch_size, config.seed,
                          config.cache_dir, config.augment_views)
    return ImageTask(entry, frame, image_size, weights, config.batch_size, config.seed, xla=config.xla)


def first_images(frame: pd.DataFrame, image_size: int, n: int) -> np.ndarray:
    """The first `n` images of `frame` as the pipeline delivers them (raw RGB, no augmentation), in one array."""
    rows = frame.head(n).reset_index(drop=True)
    batches = make_dataset(rows, str(rows["split"].iloc[0]), image_size, batch_size=len(rows), shuffle=False)
    return np.concatenate([x.numpy() for x, _ in batches])


def measure_images_per_second(model: keras.Model, frame: pd.DataFrame, image_size: int, n: int = 16) -> float:
    """Forward-pass throughput of `model` on up to `n` real images from the manifest (after one warm-up call)."""
    images = first_images(frame, image_size, n)
    model.predict(images[:2], verbose=0)
    start = time.perf_counter()
    model.predict(images, batch_size=len(images), verbose=0)
    return len(images) / max(time.perf_counter() - start, 1e-9)
