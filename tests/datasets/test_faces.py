"""The one face step: framing geometry (no detector needed), and MTCNN on real DFDC faces pasted into photos."""
from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pytest

from deepfake_zoo.datasets.faces import (
    CROP_SCALE, Box, crop_face, crop_window, detect_faces, is_tight_crop,
)


def test_crop_is_square_framed_like_the_training_crops_and_centred_below_the_box():
    image = np.zeros((400, 600, 3), dtype=np.uint8)
    box = Box(200, 100, 100, 120, 0.99)
    left, top, side = crop_window(image.shape, box)
    assert side == round(CROP_SCALE * 120)
    assert left + side / 2 == pytest.approx(250, abs=1)
    assert top + side / 2 > 160  # below the box centre: MTCNN's box reaches higher than the crops
    assert crop_face(image, box).shape == (side, side, 3)


def test_crop_near_an_edge_moves_inside_and_shrinks_to_fit():
    image = np.zeros((80, 300, 3), dtype=np.uint8)
    left, top, side = crop_window(image.shape, Box(-10, -20, 150, 150, 0.99))
    assert (left, top, side) == (25, 0, 80)  # centred on the box across, clamped to the top edge
    assert crop_face(image, Box(280, 60, 40, 40, 0.99)).shape == (35, 35, 3)


def test_tight_crop_means_the_face_fills_the_image():
    image = np.zeros((224, 224, 3), dtype=np.uint8)
    assert is_tight_crop(image, Box(10, 0, 200, 230, 0.99))
    assert not is_tight_crop(image, Box(80, 80, 45, 55, 0.99))


@pytest.mark.slow
def test_no_face_in_flat_or_tiny_images():
    assert detect_faces(np.full((120, 160, 3), 180, dtype=np.uint8)) == []
    assert detect_faces(np.full((8, 8, 3), 180, dtype=np.uint8)) == []


def dfdc_faces(root: Path, n: int, seed: int) -> list[Path]:
    with open(root / "deepfake-faces" / "metadata.csv", newline="") as handle:
        names = sorted(row["videoname"] for row in csv.DictReader(handle))
    return [root / "deepfake-faces" / "faces_224" / (Path(name).stem + ".jpg")
            for name in random.Random(seed).sample(names, n)]


def paste(background: np.ndarray, face: np.ndarray, left: int, top: int) -> np.ndarray:
    out = background.copy()
    out[top:top + face.shape[0], left:left + face.shape[1]] = face
    return out


@pytest.mark.realdata
@pytest.mark.slow
def test_real_faces_pasted_into_a_photo_are_found_and_cropped_back(real_data_root):
    import cv2

    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(40, 220, (700, 1000, 3), dtype=np.uint8), (0, 0), 8)
    found = 0
    for path in dfdc_faces(real_data_root, 6, seed=3):
        face = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        face = cv2.resize(face, (200, 200), interpolation=cv2.INTER_AREA)  # a fifth of the width
        photo = paste(background, face, 420, 250)
        boxes = detect_faces(photo)
        if not boxes:
            continue
        found += 1
        box = boxes[0]
        assert not is_tight_crop(photo, box)
        left, top, side = crop_window(photo.shape, box)
        # The crop lands back on the pasted face: most of it overlaps the 200 px square.
        overlap = max(0, min(left + side, 620) - max(left, 420)) * max(0, min(top + side, 450) - max(top, 250))
        assert overlap / side ** 2 > 0.8
        assert 0.75 * 200 < side < 1.25 * 200
    assert found >= 5
