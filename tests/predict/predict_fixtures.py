"""Files and runs the predict tests make for themselves: tiny models, PNGs of any mode, oversized PNGs, videos."""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np


def train_tiny_model(paths: list[Path], labels: list[int], image_size: int, seed: int):
    """A tiny CNN taking raw RGB 0..255 at `image_size` (its rescaling inside), fit 2 epochs; returns the model."""
    import keras

    from deepfake_zoo.datasets.images import load_for_model

    keras.utils.set_random_seed(seed)
    x = np.stack([load_for_model(p, image_size) for p in paths])
    y = np.asarray(labels, dtype="float32")
    model = keras.Sequential([
        keras.Input((image_size, image_size, 3)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
        keras.layers.Conv2D(16, 3, strides=2, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    model.fit(x, y, epochs=2, batch_size=16, shuffle=True, verbose=0)
    return model, x


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


def paste_face_video(path: Path, face_file: Path, frames: int = 12, size=(320, 240)) -> None:
    """Write an MJPG video of a face crop scaled to 128 px, moving a little each frame over a textured background."""
    import cv2

    width, height = size
    face = cv2.resize(cv2.imread(str(face_file)), (128, 128), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(60, 200, (height, width, 3), dtype=np.uint8), (0, 0), 6)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (width, height))
    for i in range(frames):
        left, top = 20 + 12 * i, 40 + 4 * (i % 5)
        frame = background.copy()
        frame[top:top + 128, left:left + 128] = face
        writer.write(frame)
    writer.release()


def blank_wall_video(path: Path, frames: int = 8, size=(320, 240)) -> None:
    """Write an MJPG video of a flat beige wall with faint noise: nothing face-like anywhere."""
    import cv2

    width, height = size
    rng = np.random.default_rng(1)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (width, height))
    for _ in range(frames):
        wall = np.full((height, width, 3), (170, 190, 205), dtype=np.int16) + rng.integers(-3, 4, (height, width, 3))
        writer.write(np.clip(wall, 0, 255).astype(np.uint8))
    writer.release()
