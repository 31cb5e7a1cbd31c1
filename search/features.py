"""Frozen-backbone feature cache: run the backbone once per (data, backbone, weights, size, view), never per epoch."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from deepfake_zoo.datasets.pipeline import make_dataset
from deepfake_zoo.progress import Progress


def weights_fingerprint(model) -> str:
    """A digest of every weight array, so a changed weight file (or a random init) never serves stale features."""
    digest = hashlib.sha256()
    for w in model.weights:
        # Values and shapes only: layer names get per-process numbering suffixes that say nothing about the weights.
        value = np.ascontiguousarray(w.numpy())
        digest.update(str(value.shape).encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def structure_fingerprint(model) -> str:
    """The extractor's top-level wiring: preprocessing mode, which layers are pooled, output width."""
    parts = []
    for layer in model.layers:
        config = layer.get_config() if layer.name == "preprocess" else {}
        outputs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
        parts.append([type(layer).__name__, layer.name, [str(t.shape) for t in outputs], config.get("mode")])
    parts.append(str(model.output_shape))
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def rows_fingerprint(frame: pd.DataFrame) -> str:
    """A digest of which files (and labels), in which order, a split holds: a changed manifest is a new key."""
    digest = hashlib.sha256()
    for path, sha, label in zip(frame["path"], frame["sha256"], frame["label"]):
        digest.update(f"{path}\0{sha}\0{int(label)}\n".encode())
    return digest.hexdigest()


@dataclass
class FeatureCache:
    """Features of one frozen extractor on disk under `root/<model>/<key>/`, keyed by everything they depend on.

    A directory appears under its final name only once complete (written in a temporary sibling, then renamed), so a
    killed writer leaves at most a stray temporary folder that is never read. `hits` and `misses` count look-ups, so a
    caller can prove a warm run made no backbone call. A pass that computes features shows a progress bar on stderr
    (images per second, time left) unless `quiet`.
    """

    root: Path
    model_name: str
    image_size: int
    extractor: object
    batch_size: int = 64
    quiet: bool = False
    # The cached-trunk fine-tune stores activation maps: `wiring` names the cut (a new cut is a new key), `dtype`
    # float16 halves their memory. Defaults leave the keys of pooled-feature caches as they always were.
    wiring: str = ""
    dtype: str = "float32"
    hits: int = 0
    misses: int = 0
    _fingerprint: str | None = field(default=None, repr=False)

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = weights_fingerprint(self.extractor)
        return self._fingerprint

    def key(self, frame: pd.DataFrame, augment: str, seed: int) -> str:
        parts = {
            "model": self.model_name,
            "image_size": int(self.image_size),
            "weights": self.fingerprint,
            "structure": structure_fingerprint(self.extractor),
            "rows": rows_fingerprint(frame),
            "augment": augment,
            "seed": int(seed) if augment != "none" else 0,
        }
        policy = getattr(getattr(self.extractor, "dtype_policy", None), "name", "float32")
        if policy != "float32":
            # Features computed in float16 (--mixed-precision) differ slightly: they never serve a float32 search.
            parts["dtype_policy"] = policy
        if self.wiring:
            parts["wiring"] = self.wiring
        if self.dtype != "float32":
            parts["dtype"] = self.dtype
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]

    def features(self, frame: pd.DataFrame, split: str, augment: str = "none", seed: int = 0) -> np.ndarray:
        """Feature matrix (n, d) for the rows of `frame` in order, from disk when present, else computed and stored."""
        rows = frame.reset_index(drop=True)
        folder = Path(self.root) / self.model_name / self.key(rows, augment, seed)
        target = folder / "features.npy"
        if target.is_file():
            self.hits += 1
            return np.load(target)
        self.misses += 1
        data = make_dataset(rows, split, self.image_size, batch_size=self.batch_size, augment=augment,
                            shuffle=False, seed=seed)
        with Progress(len(rows), f"{self.model_name} features: {split}, {augment}", quiet=self.quiet) as bar:
            # A callback, not a hand-written batch loop: the features stay exactly those of `predict`.
            outputs = self.extractor.predict(data, verbose=0, callbacks=[_BatchProgress(bar, self.batch_size)])
            bar.update(len(rows))  # a model compiled with steps_per_execution > 1 reports only every few batches
        features = np.asarray(outputs, dtype=self.dtype)
        if len(features) != len(rows):
            raise RuntimeError(f"feature extraction returned {len(features)} rows for {len(rows)} images")
        self._store(folder, features, {"split": split, "augment": augment, "seed": seed, "n": len(rows),
                                       "image_size": self.image_size, "model": self.model_name})
        return features

    def _store(self, folder: Path, features: np.ndarray, meta: dict) -> None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
        try:
            np.save(tmp / "features.npy", features)
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
            try:
                os.rename(tmp, folder)
            except OSError:
                # Another worker finished the same key first; its copy is identical, keep it.
                if not (folder / "features.npy").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class _BatchProgress(keras.callbacks.Callback):
    """Counts each predicted batch on a Progress bar."""

    def __init__(self, bar: Progress, batch_size: int):
        super().__init__()
        self.bar = bar
        self.batch_size = batch_size

    def on_predict_batch_end(self, batch, logs=None):
        self.bar.update(self.batch_size)  # the bar clips the last, shorter batch at its total
