"""Self-blended fakes: the blend stays inside a soft face mask, is seeded, and only real training images feed it."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from deepfake_zoo.datasets.self_blend import (MAX_MASK_REACH, SOURCE_SUFFIX, face_mask, face_scale,
                                              make_self_blended, self_blend)

SIZE = 64
# Eyes, nose, mouth corners of a face filling the middle of a 64px image.
LANDMARKS = np.array([[26.0, 28.0], [38.0, 28.0], [32.0, 34.0], [27.0, 40.0], [37.0, 40.0]])


def _image(seed: int = 0, size: int = SIZE) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Smooth content plus texture, so blur, sharpening and colour changes all show.
    base = np.linspace(40, 210, size)[None, :, None] * np.array([1.0, 0.8, 0.6])
    return np.clip(base + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)


def _reach_mask(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Every pixel within MAX_MASK_REACH face scales of a landmark: the documented bound of where a blend may act."""
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    distance = np.min([np.hypot(xs - x, ys - y) for x, y in landmarks], axis=0)
    return distance <= MAX_MASK_REACH * face_scale(landmarks)


@pytest.mark.parametrize("seed", range(6))
def test_blend_changes_pixels_only_where_the_mask_is_nonzero(seed):
    image = _image(seed)
    blend = self_blend(image, LANDMARKS, np.random.default_rng(seed))
    changed = np.any(blend.image != image, axis=-1)
    assert changed.sum() > 200  # the face really changed
    assert not np.any(changed & (blend.mask == 0))
    assert not np.any((blend.mask > 0) & ~_reach_mask(LANDMARKS, image.shape[:2]))
    assert np.array_equal(blend.image[0], image[0]) and np.array_equal(blend.image[:, -1], image[:, -1])
    assert 0.5 <= blend.ratio <= 1.0


def _varied_face(seed: int) -> np.ndarray:
    """Landmarks of a face turned, squashed or widened at random, in the middle of a 128px image."""
    rng = np.random.default_rng(seed)
    base = np.array([[-0.5, -0.45], [0.5, -0.45], [0.0, 0.0], [-0.4, 0.55], [0.4, 0.55]])
    angle = rng.uniform(-1.0, 1.0)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return (base * rng.uniform(0.5, 1.6, size=2)) @ turn.T * 25 + 64


@pytest.mark.parametrize("seed", range(8))
def test_mask_stays_within_its_documented_reach_for_any_face_shape(seed):
    landmarks = _varied_face(seed)
    mask = face_mask((128, 128), landmarks, np.random.default_rng(seed))
    assert mask.max() > 0 and not np.any((mask > 0) & ~_reach_mask(landmarks, (128, 128)))


@pytest.mark.parametrize("seed", range(4))
def test_mask_is_soft_on_its_boundary_and_full_at_the_face(seed):
    mask = face_mask((SIZE, SIZE), LANDMARKS, np.random.default_rng(seed))
    assert mask.dtype == np.float32 and mask.min() == 0.0 and mask.max() == pytest.approx(1.0)
    nose_x, nose_y = LANDMARKS[2].astype(int)
    assert mask[nose_y, nose_x] > 0.9
    # Walking from the nose to the image edge, the mask passes through several values strictly between 0 and 1.
    ray = mask[nose_y, nose_x:]
    assert np.sum((ray > 0.01) & (ray < 0.99)) >= 2


def test_same_seed_same_blend_other_seed_other_blend():
    image = _image()
    first = self_blend(image, LANDMARKS, np.random.default_rng(7))
    again = self_blend(image, LANDMARKS, np.random.default_rng(7))
    other = self_blend(image, LANDMARKS, np.random.default_rng(8))
    assert np.array_equal(first.image, again.image) and np.array_equal(first.mask, again.mask)
    assert not np.array_equal(first.image, other.image)


def test_rejects_bad_images_and_landmarks():
    with pytest.raises(ValueError, match="5 \\(x, y\\) points"):
        self_blend(_image(), LANDMARKS[:3], np.random.default_rng(0))
    with pytest.raises(ValueError, match="uint8"):
        self_blend(_image().astype(np.float32), LANDMARKS, np.random.default_rng(0))


def _manifest(folder: Path) -> pd.DataFrame:
    """Real and fake rows in every split; four real training images, two of them in one group."""
    rows = []
    specs = [("r0", 0, "train", "g0"), ("r1", 0, "train", "g0"), ("r2", 0, "train", "g2"), ("r3", 0, "train", "g3"),
             ("f0", 1, "train", "g0"), ("rv", 0, "val", "gv"), ("rt", 0, "test", "gt"), ("fv", 1, "val", "gv")]
    for i, (name, label, split, group) in enumerate(specs):
        path = folder / f"{name}.jpg"
        Image.fromarray(_image(i)).save(path, quality=95)
        rows.append({"path": str(path), "label": label, "source": "faces", "group": group, "split": split,
                     "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "width": SIZE, "height": SIZE})
    return pd.DataFrame(rows)


def test_only_real_training_images_are_blended_and_rows_follow_their_source(tmp_path):
    (tmp_path / "in").mkdir()
    frame = _manifest(tmp_path / "in")
    read = []

    def detect(image):
        read.append(image)
        return None if len(read) == 3 else LANDMARKS  # the third image read has "no face"

    made = make_self_blended(frame, tmp_path / "sbi", ratio=1.0, seed=0, detect=detect, quiet=True)
    sources = {str(p) for p in frame.loc[(frame.label == 0) & (frame.split == "train"), "path"]}
    assert len(read) == 4 and made.ineligible == 4
    assert dict(made.skips) == {"no face found": 1} and len(made.rows) == 3
    rows = made.rows
    assert set(rows["label"]) == {1} and set(rows["split"]) == {"train"}
    assert set(rows["source"]) == {"faces" + SOURCE_SUFFIX}
    by_path = frame.set_index("path")
    for _, row in rows.iterrows():
        path = Path(row["path"])
        assert path.is_file() and path.parent == (tmp_path / "sbi").resolve() and path.suffix == ".jpg"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"]
        origin = next(p for p in sources if Path(p).stem == path.name.split("-")[0])
        assert row["group"] == by_path.loc[origin, "group"]
    assert not [p for p in os.listdir(tmp_path / "sbi") if p.startswith(".")]  # no temporary leftovers


def test_val_test_and_fake_rows_are_never_read(tmp_path):
    (tmp_path / "in").mkdir()
    frame = _manifest(tmp_path / "in")
    # Unreadable files in every ineligible row: touching any of them would be a skip, not silence.
    for path in frame.loc[(frame.label == 1) | (frame.split != "train"), "path"]:
        Path(path).write_bytes(b"not an image")
    made = make_self_blended(frame, tmp_path / "sbi", seed=0, detect=lambda image: LANDMARKS, quiet=True)
    assert len(made.rows) == 4 and not made.skips


def test_an_unreadable_training_image_is_a_counted_skip(tmp_path):
    (tmp_path / "in").mkdir()
    frame = _manifest(tmp_path / "in")
    Path(frame.loc[0, "path"]).write_bytes(b"\xff\xd8 truncated")
    made = make_self_blended(frame, tmp_path / "sbi", seed=0, detect=lambda image: LANDMARKS, quiet=True)
    assert dict(made.skips) == {"unreadable image": 1} and len(made.rows) == 3


def test_no_real_training_rows_is_an_error(tmp_path):
    (tmp_path / "in").mkdir()
    frame = _manifest(tmp_path / "in")
    with pytest.raises(ValueError, match="no real training images"):
        make_self_blended(frame[frame.split != "train"], tmp_path / "sbi", detect=lambda image: LANDMARKS)
    with pytest.raises(ValueError, match="ratio"):
        make_self_blended(frame, tmp_path / "sbi", ratio=1.5, detect=lambda image: LANDMARKS)


def test_seeded_subset_and_blends_are_reproducible(tmp_path):
    (tmp_path / "in").mkdir()
    frame = _manifest(tmp_path / "in")
    runs = [make_self_blended(frame, tmp_path / name, ratio=0.5, seed=3, detect=lambda image: LANDMARKS, quiet=True)
            for name in ("a", "b")]
    assert len(runs[0].rows) == 2
    assert list(runs[0].rows["sha256"]) == list(runs[1].rows["sha256"])
    # The same image blended inside a different subset (other row order) gets the same pixels: keyed on content.
    shuffled = make_self_blended(frame.iloc[::-1], tmp_path / "c", ratio=1.0, seed=3,
                                 detect=lambda image: LANDMARKS, quiet=True)
    assert set(runs[0].rows["sha256"]) <= set(shuffled.rows["sha256"])


@pytest.mark.realdata
@pytest.mark.slow
def test_real_dfdc_crops_get_landmarks_and_blends_with_mtcnn(real_data_root, tmp_path):
    faces = real_data_root / "deepfake-faces"
    meta = pd.read_csv(faces / "metadata.csv")
    picked = meta[meta["label"] == "REAL"].sample(10, random_state=0)
    rows = []
    for name in picked["videoname"]:
        path = faces / "faces_224" / f"{Path(name).stem}.jpg"
        rows.append({"path": str(path), "label": 0, "source": "deepfake-faces", "group": name, "split": "train",
                     "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "width": 224, "height": 224})
    frame = pd.DataFrame(rows)
    made = make_self_blended(frame, tmp_path / "sbi", seed=0, quiet=True)  # the real MTCNN
    assert len(made.rows) >= 8 and set(made.skips) <= {"no face found"}
    assert len(made.rows) + sum(made.skips.values()) == 10
    for _, row in made.rows.iterrows():
        source = np.asarray(Image.open(frame.set_index("group").loc[row["group"], "path"]).convert("RGB"), np.int16)
        blended = np.asarray(Image.open(row["path"]).convert("RGB"), np.int16)
        assert blended.shape == source.shape == (224, 224, 3)
        # The face changed visibly; the corners (outside any face mask) only by JPEG re-encoding.
        assert np.abs(blended - source)[60:170, 60:170].mean() > 2
        assert np.abs(blended - source)[:12, :12].mean() < 2
