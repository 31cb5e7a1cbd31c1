"""Files and runs the predict tests make for themselves: tiny models, PNGs of any mode, oversized PNGs."""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np


def write_tiny_run(runs_dir: Path, name: str = "tiny", image_size: int = 32, seed: int = 0,
                   threshold: float = 0.5, **metrics) -> Path:
    """runs/<name>/ holding an untrained (seeded) tiny CNN that really loads and scores: for tests of the plumbing."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((image_size, image_size, 3)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(4, 3, strides=2, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    run_dir = runs_dir / name
    run_dir.mkdir(parents=True, exist_ok=True)
    model.save(run_dir / "model.keras")
    (run_dir / "metrics.json").write_text(json.dumps({
        "model": name, "image_size": image_size, "threshold": threshold, "roc_auc": 0.5, "accuracy": 0.5,
        "train_sources": ["demo"], "n_test": 10, **metrics,
    }))
    return run_dir




def write_png(path: Path, array: np.ndarray) -> Path:
    """Save a uint8 array (HxW, HxWx3 or HxWx4) as PNG with PIL, keeping its mode (RGBA stays RGBA)."""
    from PIL import Image

    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path, format="PNG")
    return path


def big_grey_png(path, width: int, height: int) -> None:
    """A valid 8-bit greyscale PNG of width x height zeros, written row by row so the test never holds it decoded."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte 0, then the pixels
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n")
        handle.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)))
        handle.write(chunk(b"IDAT", data))
        handle.write(chunk(b"IEND", b""))
