"""How a run holds up when its test images are degraded: JPEG re-compression, blur, resampling and sensor noise.

Each perturbation is applied to the decoded file at its own resolution (a re-shared image is re-compressed or
resampled before anyone crops it for a model), then the image is resized exactly as in training and scored. Every
perturbation is deterministic: JPEG, blur and resampling have no randomness, and the noise of image `i` is drawn
from `numpy.random.default_rng([seed, i])`, so a result never depends on batch size or order.

The result, `runs/<model>/robustness.json`, holds ROC AUC and accuracy (at the run's threshold) for the clean images
and for every perturbation and severity. It is computed once: a later call returns the stored file while the model
file, the scored rows, the seed and the perturbation list are unchanged (they make its `key`).
"""
from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

from deepfake_zoo import atomic
from deepfake_zoo.search.metrics import binary_metrics

# Perturbation -> (what its severities mean, severities from mild to harsh).
PERTURBATIONS: dict[str, tuple[str, tuple[float, ...]]] = {
    "jpeg": ("quality", (90, 70, 50, 30)),
    "blur": ("sigma", (1, 2, 3)),
    "downscale": ("factor", (0.5, 0.25)),
    "noise": ("sigma", (5, 10)),
}
ROBUSTNESS_FILE = "robustness.json"
# Written into the cache key: bump it when a perturbation's definition changes, so stored results are recomputed.
PERTURBATION_VERSION = 1
CHUNK = 64
WORKERS = 4


def _as_float(image) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"expected an RGB image of shape (height, width, 3), got shape {array.shape}")
    return array.astype(np.float32)


def _like(result: np.ndarray, original) -> np.ndarray:
    """`result` (float, 0..255) back in the input's dtype: uint8 is rounded, floats stay float32."""
    result = np.clip(result, 0.0, 255.0)
    if np.asarray(original).dtype == np.uint8:
        return np.round(result).astype(np.uint8)
    return result.astype(np.float32)


def _to_uint8(image) -> np.ndarray:
    return np.round(np.clip(_as_float(image), 0.0, 255.0)).astype(np.uint8)


def jpeg_bytes(image, quality: int) -> bytes:
    """The image encoded as a baseline JPEG at `quality` (4:2:0 chroma, as cameras and web services save them)."""
    buffer = io.BytesIO()
    Image.fromarray(_to_uint8(image), "RGB").save(buffer, format="JPEG", quality=int(quality), subsampling=2)
    return buffer.getvalue()


def jpeg(image, quality: int) -> np.ndarray:
    """Re-compress as JPEG at `quality` (1-95) and decode again."""
    decoded = np.asarray(Image.open(io.BytesIO(jpeg_bytes(image, quality))).convert("RGB"))
    return _like(decoded.astype(np.float32), image)


def blur(image, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation `sigma` pixels on both axes (edges reflected), each channel alone."""
    return _like(ndimage.gaussian_filter(_as_float(image), sigma=(sigma, sigma, 0), mode="reflect"), image)


def downscale(image, factor: float) -> np.ndarray:
    """Shrink by `factor` (bilinear with antialias, as the training resize) and enlarge back to the original size."""
    import tensorflow as tf

    array = _as_float(image)
    height, width = array.shape[:2]
    small = tf.image.resize(array, (max(1, round(height * factor)), max(1, round(width * factor))),
                            method="bilinear", antialias=True)
    return _like(tf.image.resize(small, (height, width), method="bilinear").numpy(), image)


def noise(image, sigma: float, seed=0) -> np.ndarray:
    """Add Gaussian noise of standard deviation `sigma` (on the 0-255 scale), drawn from default_rng(seed), clipped.

    `seed` may be an int or a sequence of ints (the robustness run passes [seed, image index]).
    """
    array = _as_float(image)
    rng = np.random.default_rng(seed)
    return _like(array + rng.normal(0.0, float(sigma), array.shape).astype(np.float32), image)


def perturb(image, kind: str, severity: float, seed=0) -> np.ndarray:
    """Apply perturbation `kind` (a PERTURBATIONS key) at `severity` to an RGB image (uint8 or float, 0..255).

    Returns the same dtype (uint8 stays uint8, floats become float32). Raises ValueError for an unknown kind.

    >>> image = np.full((32, 32, 3), 128, np.uint8)
    >>> perturb(image, "noise", 5, seed=0).dtype
    dtype('uint8')
    """
    if kind == "jpeg":
        return jpeg(image, int(severity))
    if kind == "blur":
        return blur(image, float(severity))
    if kind == "downscale":
        return downscale(image, float(severity))
    if kind == "noise":
        return noise(image, float(severity), seed)
    raise ValueError(f"unknown perturbation {kind!r}; choose one of {', '.join(PERTURBATIONS)}")


def settings(perturbations: dict = PERTURBATIONS) -> list[tuple[str, float]]:
    """Every (perturbation, severity) pair, in the order of PERTURBATIONS."""
    return [(kind, severity) for kind, (_, severities) in perturbations.items() for severity in severities]


def psnr(a, b) -> float:
    """Peak signal-to-noise ratio in dB between two images on the 0-255 scale (inf when identical)."""
    mse = float(np.mean((_as_float(a) - _as_float(b)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def select_test_rows(frame: pd.DataFrame, limit: int | None = None, seed: int = 0) -> pd.DataFrame:
    """The manifest's test split, or a seeded sample of `limit` of its rows drawn per label in proportion, so both
    classes stay in; rows keep manifest order."""
    rows = frame[frame["split"] == "test"]
    if rows.empty:
        raise ValueError("the manifest has no test rows to perturb; rebuild it with `make data`")
    if limit is None or limit >= len(rows):
        return rows.reset_index(drop=True)
    if limit < 2:
        raise ValueError(f"--limit must be at least 2 (one image per class), got {limit}")
    shares = rows["label"].value_counts(normalize=True)
    # At least one image per label present, the rest in proportion; seeded per label so the draw is stable.
    want = {label: max(1, int(round(limit * share))) for label, share in shares.items()}
    while sum(want.values()) > limit:
        want[max(want, key=want.get)] -= 1
    picked = [part.sample(n=min(want[label], len(part)), random_state=seed + int(label))
              for label, part in rows.groupby("label")]
    return rows.loc[sorted(pd.concat(picked).index)].reset_index(drop=True)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_key(model_sha256: str, rows: pd.DataFrame, seed: int, perturbations: dict = PERTURBATIONS) -> dict:
    """What a stored robustness.json must match to be reused: the model file, the scored rows, seed, perturbations."""
    columns = [c for c in ("path", "sha256", "label") if c in rows.columns]
    rows_digest = hashlib.sha256(rows[columns].to_csv(index=False).encode()).hexdigest()
    return {"model_sha256": model_sha256, "rows_sha256": rows_digest, "seed": int(seed),
            "perturbations": {kind: list(levels) for kind, (_, levels) in perturbations.items()},
            "version": PERTURBATION_VERSION}


def _decode(path: str) -> np.ndarray:
    from deepfake_zoo.datasets.images import decode_rgb
    import tensorflow as tf

    return decode_rgb(tf.io.read_file(path)).numpy()


def _predict(forward, images: list[np.ndarray], batch_size: int) -> np.ndarray:
    batch = np.stack(images)
    out = [forward(batch[i:i + batch_size]).numpy().reshape(-1) for i in range(0, len(batch), batch_size)]
    return np.concatenate(out).astype(np.float64)


def perturbed_scores(model, rows: pd.DataFrame, image_size: int, seed: int = 0, batch_size: int = 32,
                     perturbations: dict = PERTURBATIONS) -> dict[str, np.ndarray]:
    """P(fake) of every row, clean ("clean") and under each setting ("jpeg/90", "blur/1", ...), as arrays in row order.

    Files are read and decoded once each, as the training pipeline decodes them; images go through in chunks, so
    memory stays bounded by the chunk, not the split, and the images of a chunk are perturbed in a thread pool
    (PIL, SciPy and TensorFlow release the GIL while they work).
    """
    from deepfake_zoo.datasets.images import resize_for_model
    from deepfake_zoo.search.cost import traced_forward

    forward = traced_forward(model)
    pairs = settings(perturbations)
    names = ["clean"] + [f"{kind}/{severity:g}" for kind, severity in pairs]
    scores: dict[str, list[np.ndarray]] = {name: [] for name in names}
    paths = rows["path"].astype(str).tolist()

    def variants(index: int) -> list[np.ndarray]:
        original = _decode(paths[index])
        changed = [perturb(original, kind, severity, seed=[int(seed), index]) for kind, severity in pairs]
        return [resize_for_model(image, image_size).numpy() for image in [original, *changed]]

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for start in range(0, len(paths), CHUNK):
            chunk = list(pool.map(variants, range(start, min(start + CHUNK, len(paths)))))
            for position, name in enumerate(names):
                scores[name].append(_predict(forward, [images[position] for images in chunk], batch_size))
    return {name: np.concatenate(parts) if parts else np.zeros(0) for name, parts in scores.items()}


def robustness_report(scores: dict[str, np.ndarray], labels, threshold: float, temperature: float | None = None,
                      perturbations: dict = PERTURBATIONS) -> dict:
    """ROC AUC and accuracy for the clean scores and per perturbation, severities in the order of PERTURBATIONS.

    With a `temperature` the scores are calibrated first and `threshold` must be the calibrated one.
    """
    from deepfake_zoo.search.calibration import apply_temperature

    def summary(values: np.ndarray) -> dict:
        values = apply_temperature(values, temperature) if temperature else values
        metrics = binary_metrics(labels, values, threshold)
        return {"roc_auc": metrics["roc_auc"], "accuracy": metrics["accuracy"]}

    report = {"clean": summary(scores["clean"]), "perturbations": {}}
    for kind, (parameter, levels) in perturbations.items():
        results = [summary(scores[f"{kind}/{level:g}"]) for level in levels]
        report["perturbations"][kind] = {"parameter": parameter, "levels": list(levels),
                                         "roc_auc": [r["roc_auc"] for r in results],
                                         "accuracy": [r["accuracy"] for r in results]}
    return report


def run_robustness(run_dir: str | Path, manifest_frame: pd.DataFrame, model, image_size: int, threshold: float,
                   temperature: float | None = None, limit: int | None = None, seed: int = 0,
                   batch_size: int = 32, force: bool = False, perturbations: dict = PERTURBATIONS) -> dict:
    """The run's robustness.json: read back when its key still matches, else computed and written atomically.

    `model` is a loaded Keras model or a function returning one (called only when the result must be computed).
    `limit` scores a seeded, label-stratified sample of that many test images instead of the whole split.

    >>> report = run_robustness("runs/cnn", load_manifest(), model, 64, threshold=0.5, limit=200)  # doctest: +SKIP
    >>> report["perturbations"]["jpeg"]["roc_auc"]  # doctest: +SKIP
    [0.91, 0.9, 0.87, 0.8]
    """
    run_dir = Path(run_dir)
    model_file = run_dir / "model.keras"
    rows = select_test_rows(manifest_frame, limit, seed)
    key = cache_key(file_sha256(model_file) if model_file.is_file() else "", rows, seed, perturbations)
    target = run_dir / ROBUSTNESS_FILE
    if not force and target.is_file():
        try:
            stored = json.loads(target.read_text())
        except (OSError, json.JSONDecodeError):
            stored = {}
        if stored.get("key") == key:
            return stored
    if isinstance(model, Callable) and not hasattr(model, "predict_on_batch"):
        model = model()
    started = time.perf_counter()
    scores = perturbed_scores(model, rows, image_size, seed, batch_size, perturbations)
    labels = rows["label"].astype(int).to_numpy()
    report = {
        "model": run_dir.name, "split": "test", "n": int(len(rows)), "n_fake": int(labels.sum()),
        "n_real": int(len(labels) - labels.sum()), "limit": limit,
        "sources": sorted(rows["source"].astype(str).unique()) if "source" in rows.columns else [],
        "image_size": int(image_size), "threshold": float(threshold), "temperature": temperature,
        "applied_to": "the decoded file at its own resolution, before the training resize",
        **robustness_report(scores, labels, threshold, temperature, perturbations),
        "key": key, "seconds": round(time.perf_counter() - started, 3),
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    atomic.write_text(target, json.dumps(report, indent=2) + "\n")
    return report
