"""Say how long a search will take before it starts: images x epochs x a step time measured on this machine."""
from __future__ import annotations

import time

import numpy as np

from deepfake_zoo.search.training import first_images


def format_duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _timed(fn, repeats: int = 2) -> float:
    fn()  # warm-up: graph tracing and allocation are not the steady state
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def estimate_seconds(task, config) -> dict:
    """An upper-bound estimate (no pruning, no early stopping) with the measured per-image costs behind it."""
    n_train, n_val, n_test = (len(task.frames[s]) for s in ("train", "val", "test"))
    n = min(config.batch_size, n_train, 16)
    images = first_images(task.frames["train"], task.image_size, n)
    extractor = task.feature_extractor()
    if extractor is not None:
        per_image = _timed(lambda: extractor.predict(images, batch_size=n, verbose=0)) / len(images)
        views = len(task.train_views())
        extract = per_image * (n_train * views + n_val + n_test)
        head_epoch = 2e-5 * (n_train + n_val)  # a dense head on cached vectors: tens of microseconds an image
        total = extract + config.trials * config.epochs * head_epoch
        detail = (f"feature cache: up to {n_train * views + n_val + n_test} backbone passes at "
                  f"{1 / per_image:.0f} img/s (fewer when cached), then heads on cached features")
        return {"total_s": total, "backbone_images_per_s": 1 / per_image, "detail": detail}
    hp = task.entry.default_hparams()
    model = task.build(hp)
    labels = np.zeros(len(images), dtype=np.float32)
    step = _timed(lambda: model.train_on_batch(images, labels)) / len(images)
    forward = _timed(lambda: model.predict(images, batch_size=len(images), verbose=0)) / len(images)
    per_epoch = step * n_train + forward * n_val
    total = config.trials * config.epochs * per_epoch + forward * (n_val + n_test)
    detail = f"{1 / step:.0f} img/s training, {1 / forward:.0f} img/s inference, {format_duration(per_epoch)} an epoch"
    return {"total_s": total, "train_images_per_s": 1 / step, "detail": detail}
