"""A tiny trained run on the synthetic demo, for the evaluate tests: runs/<name>/model.keras + metrics.json."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from predict_fixtures import train_tiny_model

from deepfake_zoo.datasets.demo import make_demo_dataset

IMAGE_SIZE = 32


def demo_folder(root: Path, n_per_class: int = 24) -> Path:
    """The seeded synthetic demo (Real/ and Fake/ PNGs at 32 px) under `root`."""
    return make_demo_dataset(root, seed=0, n_per_class=n_per_class, image_size=IMAGE_SIZE)


def write_tiny_run(runs_dir: Path, name: str, data: Path, seed: int = 0, **extra) -> Path:
    """Train a tiny CNN (raw RGB 0..255 in, P(fake) out) 2 epochs on `data`'s Real/Fake and save it as a run.

    Its threshold is the median P(fake) of its training images, so it is not 0.5 and both labels occur.
    """
    paths = sorted((data / "Real").glob("*.png")) + sorted((data / "Fake").glob("*.png"))
    labels = [0] * len(list((data / "Real").glob("*.png"))) + [1] * len(list((data / "Fake").glob("*.png")))
    model, x = train_tiny_model(paths, labels, IMAGE_SIZE, seed)
    threshold = float(np.median(model.predict(x, verbose=0)))
    run_dir = runs_dir / name
    run_dir.mkdir(parents=True, exist_ok=True)
    model.save(run_dir / "model.keras")
    (run_dir / "metrics.json").write_text(json.dumps({
        "model": name, "family": "tiny", "image_size": IMAGE_SIZE, "threshold": threshold, "roc_auc": 0.7,
        "accuracy": 0.6, "weights": "none", **extra}))
    return run_dir
