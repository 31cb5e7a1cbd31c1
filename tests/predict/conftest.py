"""Fixtures for predict: real DFDC face crops, two tiny models trained on them once per session, test videos."""
from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest

from predict_fixtures import blank_wall_video, paste_face_video, train_tiny_model, write_tiny_run

TRAIN_PER_LABEL = 24
HELD_OUT_PER_LABEL = 3


@pytest.fixture
def make_run():
    """A function writing runs/<name>/ with the given metrics.json fields and a model.keras never loaded."""
    def write(runs_dir: Path, name: str, **metrics) -> Path:
        run_dir = runs_dir / name
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "metrics.json").write_text(json.dumps({"model": name, **metrics}))
        (run_dir / "model.keras").write_bytes(b"placeholder: run-choice tests never load it")
        return run_dir

    return write


@pytest.fixture(scope="session")
def face_crops(real_data_root) -> dict[str, list[Path]]:
    """DFDC faces_224 crops chosen with seed 0: `train` (24 real + 24 fake) and `held_out` (3 + 3) never trained on."""
    root = real_data_root / "deepfake-faces"
    with open(root / "metadata.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rng = random.Random(0)
    chosen: dict[str, list[Path]] = {"train": [], "held_out": [], "train_labels": []}
    for label in ("REAL", "FAKE"):
        names = sorted(row["videoname"] for row in rows if row["label"] == label)
        picked = rng.sample(names, TRAIN_PER_LABEL + HELD_OUT_PER_LABEL)
        paths = [root / "faces_224" / (Path(name).stem + ".jpg") for name in picked]
        chosen["train"] += paths[:TRAIN_PER_LABEL]
        chosen["train_labels"] += [int(label == "FAKE")] * TRAIN_PER_LABEL
        chosen["held_out"] += paths[TRAIN_PER_LABEL:]
    return chosen


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory, face_crops) -> Path:
    """runs/ with two really trained tiny models: tiny_64 (roc_auc 0.71, eer 0.35) and tiny_32 (0.62, eer 0.30).

    Each threshold is the median P(fake) of its own training crops, so it is not 0.5 and both labels occur.
    """
    runs_dir = tmp_path_factory.mktemp("predict") / "runs"
    for name, size, seed, auc, eer in (("tiny_64", 64, 0, 0.71, 0.35), ("tiny_32", 32, 1, 0.62, 0.30)):
        model, x = train_tiny_model(face_crops["train"], face_crops["train_labels"], size, seed)
        threshold = float(np.median(model.predict(x, verbose=0)))
        run_dir = runs_dir / name
        run_dir.mkdir(parents=True)
        model.save(run_dir / "model.keras")
        (run_dir / "metrics.json").write_text(json.dumps({
            "model": name, "image_size": size, "threshold": threshold, "roc_auc": auc, "eer": eer,
            "accuracy": 0.6, "weights": "none",
        }))
    return runs_dir


@pytest.fixture(scope="session")
def face_video(tmp_path_factory, face_crops) -> Path:
    """An MJPG video of a held-out real face crop (scaled to 128 px) drifting over a blurred-noise background."""
    path = tmp_path_factory.mktemp("videos") / "face.avi"
    paste_face_video(path, face_crops["held_out"][0])
    return path


@pytest.fixture(scope="session")
def blank_video(tmp_path_factory) -> Path:
    """An MJPG video of a flat wall: no face in any frame."""
    path = tmp_path_factory.mktemp("videos") / "wall.avi"
    blank_wall_video(path)
    return path


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory) -> Path:
    """runs/ with one untrained tiny CNN `tiny` (32 px, threshold 0.5): loads in a second, needs no data."""
    runs_dir = tmp_path_factory.mktemp("tiny") / "runs"
    write_tiny_run(runs_dir)
    return runs_dir
