"""`data --faces crop|auto`: rows point at face crops cached by content, no-face images are counted skips.

The unit tests inject a fake detector (a bright square is the face) so the cache, skip and per-source rules are
checked in milliseconds; the real-data test runs MTCNN on real DFDC faces pasted into larger photos.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from deepfake_zoo import api
from deepfake_zoo.datasets import cli, faces
from deepfake_zoo.datasets.cropping import AUTO_RULE
from deepfake_zoo.datasets.manifest import build_manifest, load_manifest

PHOTO, PATCH = 96, 30     # a 30 px face in a 96 px photo: far below the tight-crop fraction
CROP, CROP_PATCH = 48, 44  # a face filling a 48 px image: already a crop


class FakeDetector:
    """Stands in for MTCNN: the face is the box around the pixels brighter than 200; `calls` counts detections."""

    def __init__(self):
        self.calls = 0

    def detect_faces(self, image):
        self.calls += 1
        ys, xs = np.nonzero(image.min(axis=2) > 200)
        if not len(xs):
            return []
        box = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
        return [{"box": box, "confidence": 0.99}]


@pytest.fixture
def detector(monkeypatch) -> FakeDetector:
    fake = FakeDetector()
    monkeypatch.setattr(faces, "face_detector", lambda: fake)
    return fake


def write_face_image(path: Path, seed: int, size: int, patch: int | None) -> Path:
    """A dark noisy PNG (pixels < 150, so never a face) with a white `patch` square at a seeded place, or none."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 150, (size, size, 3), dtype=np.uint8)
    if patch:
        left, top = (int(v) for v in rng.integers(0, size - patch + 1, 2))
        pixels[top:top + patch, left:left + patch] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, "RGB").save(path, format="PNG")
    return path


@pytest.fixture
def face_data(tmp_path: Path) -> Path:
    """photos/{Real,Fake}: 6 photos with a small face and 1 without; crops/{Real,Fake}: 4 images that are all face."""
    data = tmp_path / "data"
    for i in range(6):
        write_face_image(data / "photos" / ("Real", "Fake")[i % 2] / f"p{i}.png", seed=i, size=PHOTO, patch=PATCH)
    write_face_image(data / "photos" / "Real" / "empty.png", seed=99, size=PHOTO, patch=None)
    for i in range(4):
        write_face_image(data / "crops" / ("Real", "Fake")[i % 2] / f"c{i}.png", seed=50 + i, size=CROP,
                         patch=CROP_PATCH)
    return data


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_crop_rows_point_at_cached_face_crops_keep_the_originals_hash_and_group_and_skip_the_faceless(
        face_data, tmp_path, detector):
    whole_report = build_manifest(face_data, tmp_path / "whole" / "splits.csv", cap_per_class=0)
    whole = load_manifest(tmp_path / "whole" / "splits.csv")
    assert whole_report.face_sources == {} and not (tmp_path / "whole" / "faces").exists()
    assert detector.calls == 0  # --faces none (the default) never runs the detector

    manifest = tmp_path / "build" / "splits.csv"
    report = build_manifest(face_data, manifest, cap_per_class=0, faces="crop")
    df = load_manifest(manifest)
    assert detector.calls == 11  # every image once: 7 photos, 4 crops (crop mode crops every source)
    assert len(df) == 10
    assert report.skipped["photos"] == {"no_face": 1}
    assert report.examples["no_face"] == ["photos/Real/empty.png"]
    faces_dir = manifest.parent / "faces"
    assert all(Path(p).parent == faces_dir and Path(p).suffix == ".png" for p in df["path"])
    photos = df[df.source == "photos"]
    expected_side = round(faces.CROP_SCALE * PATCH)
    for row in photos.itertuples():
        with Image.open(row.path) as crop:
            assert crop.size == (expected_side, expected_side) == (row.width, row.height)
            # The crop is the face: almost all white (the framing cuts inside the detector's box).
            assert np.asarray(crop).min(axis=2).mean() > 200
    # The original's identity is kept: the same hash, group and label as the whole-image build gave that file.
    kept = whole.set_index("sha256").loc[df["sha256"], ["group", "label", "source"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, df[["group", "label", "source"]].reset_index(drop=True))
    originals = {sha256(p) for p in face_data.rglob("*.png") if p.name != "empty.png"}
    assert set(df["sha256"]) == originals

    text = (manifest.parent / "report.txt").read_text(encoding="utf-8")
    assert "--faces crop" in text and "photos: cropped 6" in text and "1 no-face skips" in text
    assert "the face detector found no face" in text

    # A rebuild reads the detections and crops from the cache: no detector run, the same manifest byte for byte.
    first = manifest.read_bytes()
    again = build_manifest(face_data, manifest, cap_per_class=0, faces="crop")
    assert detector.calls == 11
    assert manifest.read_bytes() == first
    assert again.face_sources["photos"]["detected"] == 0 and again.skipped["photos"] == {"no_face": 1}


def test_auto_crops_only_the_sources_that_are_not_face_crops_and_says_its_rule(face_data, tmp_path, detector):
    manifest = tmp_path / "build" / "splits.csv"
    report = build_manifest(face_data, manifest, cap_per_class=0, faces="auto")
    df = load_manifest(manifest)
    crops = df[df.source == "crops"]
    assert sorted(Path(p).name for p in crops["path"]) == ["c0.png", "c1.png", "c2.png", "c3.png"]
    assert (crops["width"] == CROP).all()
    assert all(Path(p).parent == manifest.parent / "faces" for p in df[df.source == "photos"]["path"])
    assert report.face_sources["crops"] == {"cropped": False, "sampled": 4, "tight": 4, "crops": 0, "no_face": 0,
                                            "detected": 4}
    assert report.face_sources["photos"]["cropped"] and report.face_sources["photos"]["tight"] == 0
    # The sample's detections are reused for cropping, so each image meets the detector once.
    assert detector.calls == 11
    text = report.to_text()
    assert AUTO_RULE in text and "crops: already face crops (4/4 sampled images tight), used whole" in text


def test_crops_made_with_other_framing_are_not_reused(face_data, tmp_path, detector, monkeypatch):
    manifest = tmp_path / "build" / "splits.csv"
    build_manifest(face_data / "photos", manifest, cap_per_class=0, faces="crop")
    assert detector.calls == 7
    monkeypatch.setattr(faces, "CROP_SCALE", 0.5)
    build_manifest(face_data / "photos", manifest, cap_per_class=0, faces="crop")
    assert detector.calls == 14
    assert set(load_manifest(manifest)["width"]) == {round(0.5 * PATCH)}


def test_faces_option_reaches_the_build_from_the_cli_and_the_api(face_data, tmp_path, detector, capsys):
    parser = __import__("argparse").ArgumentParser()
    cli.add_arguments(parser)
    assert parser.parse_args([]).faces == "none"
    out = tmp_path / "cli" / "splits.csv"
    assert cli.run(parser.parse_args(["--data", str(face_data), "--manifest", str(out), "--faces", "crop"])) == 0
    assert "--faces crop" in capsys.readouterr().out
    report = api.build_split(face_data, tmp_path / "api" / "splits.csv", faces="auto")
    assert report.faces == "auto" and not report.face_sources["crops"]["cropped"]
    with pytest.raises(ValueError, match="unknown face mode 'tight'"):
        build_manifest(face_data, tmp_path / "bad" / "splits.csv", faces="tight")


def test_missing_detector_is_one_sentence_naming_the_install_and_the_way_out(face_data, tmp_path, monkeypatch,
                                                                              capsys):
    def missing():
        raise faces.DetectorUnavailableError(faces.DETECTOR_MISSING)

    monkeypatch.setattr(faces, "face_detector", missing)
    parser = __import__("argparse").ArgumentParser()
    cli.add_arguments(parser)
    out = tmp_path / "build" / "splits.csv"
    assert cli.run(parser.parse_args(["--data", str(face_data), "--manifest", str(out), "--faces", "crop"])) == 1
    err = capsys.readouterr().err
    assert "pip install mtcnn" in err and "--faces none" in err
    assert not out.exists()


@pytest.mark.realdata
@pytest.mark.slow
def test_real_faces_pasted_into_photos_become_crops_of_the_face_and_a_rebuild_detects_nothing(
        real_data_root, tmp_path, monkeypatch):
    from test_faces import dfdc_faces, paste

    real = faces.face_detector()
    calls = []

    class Counting:
        def detect_faces(self, image):
            calls.append(image.shape)
            return real.detect_faces(image)

    monkeypatch.setattr(faces, "face_detector", Counting)
    rng = np.random.default_rng(0)
    width, height, side = 500, 380, 100  # the face is a fifth of the photo's width

    def background() -> np.ndarray:
        # Smooth blobs, not noise: nothing in them looks like a face, and JPEG-like texture stays out of the way.
        small = rng.integers(40, 220, (height // 10, width // 10, 3), dtype=np.uint8)
        return np.asarray(Image.fromarray(small).resize((width, height), Image.BILINEAR))

    data = tmp_path / "data"
    for folder in ("Real", "Fake"):
        (data / "photos" / folder).mkdir(parents=True)
    for i, path in enumerate(dfdc_faces(real_data_root, 5, seed=3)):
        face = np.asarray(Image.open(path).convert("RGB").resize((side, side), Image.LANCZOS))
        photo = paste(background(), face, 60 + 60 * i, 80 + 30 * i)
        Image.fromarray(photo).save(data / "photos" / ("Real", "Fake")[i % 2] / f"p{i}.png")
    Image.fromarray(background()).save(data / "photos" / "Fake" / "empty.png")
    whole = load_manifest(build_manifest(data, tmp_path / "whole" / "splits.csv", cap_per_class=0).manifest)

    manifest = tmp_path / "build" / "splits.csv"
    report = build_manifest(data, manifest, cap_per_class=0, faces="crop")
    df = load_manifest(manifest)
    assert len(calls) == 6
    assert report.skipped["photos"] == {"no_face": 1}
    assert len(df) == 5
    for row in df.itertuples():
        assert Path(row.path).parent == manifest.parent / "faces"
        assert 0.7 * side < row.width == row.height < 1.3 * side  # about the face's size, not the photo's
    originals = {sha256(p) for p in data.rglob("p*.png")}
    assert set(df["sha256"]) == originals
    kept = whole.set_index("sha256").loc[df["sha256"], ["group", "label"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, df[["group", "label"]].reset_index(drop=True))

    first = manifest.read_bytes()
    build_manifest(data, manifest, cap_per_class=0, faces="crop")
    assert len(calls) == 6  # the rebuild read every detection and crop from build/faces/
    assert manifest.read_bytes() == first
