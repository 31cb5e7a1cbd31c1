"""What a model costs to run, measured the same way for every model: CPU latency, throughput, parameters, file size.

Latency is one image at a time (batch 1), the median of `repeats` timed calls after `warmup` untimed ones, because a
detector behind an upload form sees one image at a time; throughput is batches of 32 over `batches` timed calls, as a
folder is scored. Both run on the CPU through one traced forward function (no Keras `predict` loop around it, whose
per-call overhead would swamp small models), on seeded random raw-RGB images at the run's input size.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from deepfake_zoo import atomic

COST_FILE = "cost.json"


def traced_forward(model):
    """`model` in inference mode as one traced TensorFlow function: images (N, size, size, 3) in, P(fake) (N, 1) out.

    evaluate and the robustness runs score through this same function, so their throughput compares with cost.json.
    """
    import tensorflow as tf

    shape = getattr(model, "input_shape", None)
    if isinstance(shape, tuple) and len(shape) == 4 and all(isinstance(d, int) for d in shape[1:]):
        # One trace for every batch size: a big backbone takes seconds to trace, and the last batch is smaller.
        signature = [tf.TensorSpec((None, *shape[1:]), tf.float32)]

        @tf.function(input_signature=signature)
        def forward(images):
            return model(images, training=False)
    else:
        @tf.function(reduce_retracing=True)
        def forward(images):
            return model(images, training=False)

    return forward


def measure_cost(model, image_size: int, model_path: str | Path | None = None, repeats: int = 50, warmup: int = 5,
                 batch_size: int = 32, batches: int = 10, seed: int = 0) -> dict:
    """Latency (ms per image, batch 1), throughput (images/s, batch `batch_size`), parameters and file size.

    >>> cost = measure_cost(keras.saving.load_model("runs/cnn/model.keras"), 64, "runs/cnn/model.keras")  # doctest: +SKIP
    >>> sorted(cost)[:3]  # doctest: +SKIP
    ['batch_size', 'batches', 'cpu_count']
    """
    import tensorflow as tf

    if repeats < 1 or batches < 1 or batch_size < 1 or warmup < 0:
        raise ValueError("repeats, batches and batch_size must be at least 1 and warmup at least 0")
    rng = np.random.default_rng(seed)
    single = tf.constant(rng.uniform(0, 255, (1, image_size, image_size, 3)).astype(np.float32))
    batch = tf.constant(rng.uniform(0, 255, (batch_size, image_size, image_size, 3)).astype(np.float32))
    forward = traced_forward(model)
    with tf.device("/CPU:0"):
        for _ in range(max(1, warmup)):  # the first call traces the function; it is never timed
            forward(single).numpy()
            forward(batch).numpy()
        latencies = []
        for _ in range(repeats):
            start = time.perf_counter()
            forward(single).numpy()
            latencies.append(time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(batches):
            forward(batch).numpy()
        batch_seconds = time.perf_counter() - start
    latencies.sort()
    file_bytes = Path(model_path).stat().st_size if model_path is not None and Path(model_path).is_file() else None
    return {
        "latency_ms_per_image": 1000 * statistics.median(latencies),
        "latency_ms_p90": 1000 * latencies[min(len(latencies) - 1, int(0.9 * len(latencies)))],
        "throughput_images_per_s": batch_size * batches / max(batch_seconds, 1e-9),
        "params_total": int(model.count_params()),
        "model_file_bytes": file_bytes,
        "image_size": int(image_size), "batch_size": int(batch_size), "repeats": int(repeats),
        "warmup": int(warmup), "batches": int(batches), "device": "cpu", "cpu_count": os.cpu_count(),
        "machine": platform.machine(), "tensorflow": tf.__version__,
    }


def write_cost(run_dir: str | Path, model, image_size: int, **options) -> dict:
    """Measure the run's model with `measure_cost` and write runs/<model>/cost.json atomically; returns the dict."""
    run_dir = Path(run_dir)
    cost = {"model": run_dir.name, **measure_cost(model, image_size, run_dir / "model.keras", **options),
            "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    atomic.write_text(run_dir / COST_FILE, json.dumps(cost, indent=2) + "\n")
    return cost
