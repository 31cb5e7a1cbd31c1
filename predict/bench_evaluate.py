"""Benchmark: `evaluate` on a folder's worth of images against the model's own forward throughput, side by side.

The issue's target: scoring 5,000 labelled images end to end (screening, decoding, resizing, batching, the model)
runs at no less than 80% of the model's measured inference throughput on preloaded arrays, so the input side never
holds the model back. Both are measured in one run, since the machine's speed varies between runs.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_RATIO = 0.8


def _model_images_per_second(run, frame, n: int = 256, batch: int = 32, repeats: int = 3) -> float:
    """The model alone at batch 32 on `n` preloaded real images, through the traced forward evaluate uses."""
    from deepfake_zoo.predict.evaluate import load_run_model
    from deepfake_zoo.search.cost import traced_forward
    from deepfake_zoo.search.training import first_images

    forward = traced_forward(load_run_model(run))
    images = first_images(frame, run.image_size, n)
    np.asarray(forward(images[:batch]))
    start = time.perf_counter()
    for _ in range(repeats):
        for i in range(0, len(images), batch):
            np.asarray(forward(images[i:i + batch]))
    return repeats * len(images) / (time.perf_counter() - start)


def bench_evaluate_throughput(manifest: str | Path, runs: str | Path, model: str = "mobilenet_v2_frozen",
                              n: int = 5000, seed: int = 0, batch_size: int = 32) -> dict:
    """Time `evaluate` on a CSV of `n` seeded manifest images beside the model's forward throughput (before and after)."""
    from deepfake_zoo.datasets.manifest import load_manifest
    from deepfake_zoo.predict.evaluate import evaluate_folder
    from deepfake_zoo.predict.models import choose_run

    frame = load_manifest(manifest)
    rows = frame.sample(n=min(n, len(frame)), random_state=seed).reset_index(drop=True)
    run = choose_run(runs, model=model)
    before = _model_images_per_second(run, rows)
    with tempfile.TemporaryDirectory() as scratch:
        listing = Path(scratch) / "bench-evaluate.csv"
        rows[["path", "label"]].to_csv(listing, index=False)
        start = time.perf_counter()
        metrics = evaluate_folder(listing, name="bench-evaluate", model=run.name, runs=runs,
                                  batch_size=batch_size)[run.name]
        seconds = time.perf_counter() - start
    after = _model_images_per_second(run, rows)
    model_ips = (before + after) / 2
    evaluate_ips = metrics["n"] / seconds
    return {"model": run.name, "image_size": run.image_size, "images": int(metrics["n"]), "seconds": seconds,
            "evaluate_images_per_s": evaluate_ips, "model_images_per_s": model_ips,
            "model_images_per_s_before_after": [before, after], "ratio": evaluate_ips / model_ips,
            "target_ratio": TARGET_RATIO, "met": evaluate_ips / model_ips >= TARGET_RATIO}
