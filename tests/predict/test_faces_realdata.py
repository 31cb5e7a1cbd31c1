"""Per-face verdicts on photos built from real DFDC crops pasted into larger images, with the session's tiny models."""
from __future__ import annotations

import csv
import io
import json

import cv2
import numpy as np
import pytest

from deepfake_zoo.predict import cli

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def run(capsys, *argv) -> tuple[int, str]:
    code = cli.main([str(a) for a in argv])
    return code, capsys.readouterr().out


def background(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(40, 220, (height, width, 3), dtype=np.uint8), (0, 0), 8)


def photo_with_faces(path, faces: list, width: int = 1120, height: int = 760) -> list[tuple[int, int]]:
    """A PNG of `faces` (crop files) each pasted at a fifth of the width; returns where each went (left, top)."""
    photo = background(height, width)
    side = width // 5
    spots = []
    for i, face_file in enumerate(faces):
        face = cv2.resize(cv2.imread(str(face_file)), (side, side), interpolation=cv2.INTER_AREA)
        left, top = 120 + i * (side + 200), 220
        photo[top:top + side, left:left + side] = face
        spots.append((left, top))
    cv2.imwrite(str(path), photo)
    return spots


def test_a_face_in_a_photo_is_cropped_and_scored_as_the_crop_alone(trained_runs, face_crops, capsys, tmp_path):
    crop = face_crops["held_out"][0]
    # The crop at the size it is pasted, saved losslessly: the reference the photo's face must match.
    alone = tmp_path / "alone.png"
    cv2.imwrite(str(alone), cv2.resize(cv2.imread(str(crop)), (224, 224), interpolation=cv2.INTER_AREA))
    photo = tmp_path / "photo.png"
    (left, top), = photo_with_faces(photo, [crop])

    _, out = run(capsys, alone, photo, "--runs", trained_runs, "--json")
    own, pasted = json.loads(out)["results"]

    assert own["status"] == "scored" and pasted["status"] == "scored"
    assert pasted["scored_on"] == "faces" and len(pasted["faces"]) == 1
    x, y, w, h = pasted["faces"][0]["box"]
    # The face sits inside the pasted 224 px square (not always at its centre: the crops are not centred).
    assert left <= x + w / 2 <= left + 224 and top <= y + h / 2 <= top + 224
    assert pasted["prob_fake"] == pasted["faces"][0]["prob_fake"]
    assert abs(pasted["prob_fake"] - own["prob_fake"]) < 0.05
    # Without the face step the same photo is just a resized landscape: a different number.
    _, whole = run(capsys, photo, "--runs", trained_runs, "--json", "--faces", "none")
    assert json.loads(whole)["results"][0]["scored_on"] == "whole_image"


def test_every_face_gets_a_verdict_and_the_image_takes_the_most_suspicious(trained_runs, face_crops, capsys,
                                                                           tmp_path):
    photo = tmp_path / "two.png"
    photo_with_faces(photo, face_crops["held_out"][1:3], width=1300)
    _, out = run(capsys, photo, "--runs", trained_runs, "--json")
    result = json.loads(out)["results"][0]
    threshold = result["threshold"]
    assert len(result["faces"]) == 2
    assert result["prob_fake"] == max(face["prob_fake"] for face in result["faces"])
    assert result["label"] == ("fake" if any(f["prob_fake"] >= threshold for f in result["faces"]) else "real")
    for face in result["faces"]:
        assert face["label"] == ("fake" if face["prob_fake"] >= threshold else "real")

    _, out = run(capsys, photo, "--runs", trained_runs, "--csv")
    row = next(csv.DictReader(io.StringIO(out)))
    boxes = [list(map(int, box.split())) for box in row["face_boxes"].split(";")]
    assert boxes == [face["box"] for face in result["faces"]]
    assert [float(s) for s in row["face_scores"].split(";")] == pytest.approx([f["prob_fake"] for f in result["faces"]])


def test_no_face_is_said_plainly(trained_runs, capsys, tmp_path):
    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), background(300, 400, seed=5))
    _, out = run(capsys, wall, "--runs", trained_runs, "--json")
    auto = json.loads(out)["results"][0]
    assert (auto["status"], auto["scored_on"], auto["faces"]) == ("scored", "whole_image", [])
    assert "no face" in auto["note"]
    code, out = run(capsys, wall, "--runs", trained_runs, "--json", "--faces", "crop")
    strict = json.loads(out)["results"][0]
    assert code == 1 and (strict["status"], strict["prob_fake"]) == ("no_face", None)
    assert json.loads(out)["summary"]["no_face"] == 1


def test_explain_writes_a_heatmap_per_face_and_a_summary(trained_runs, face_crops, capsys, tmp_path):
    photo = tmp_path / "two.png"
    photo_with_faces(photo, face_crops["held_out"][1:3], width=1300)
    out_dir = tmp_path / "explain"
    code, _ = run(capsys, photo, face_crops["held_out"][0], "--runs", trained_runs, "--explain", out_dir)
    assert code == 0
    pngs = sorted(p.name for p in out_dir.glob("*.png"))
    assert pngs == ["001-face-1.png", "001-face-2.png", "002-face-1.png"]
    for name in pngs:
        image = cv2.imread(str(out_dir / name))
        assert image.shape == (224, 224, 3)
    page = (out_dir / "index.html").read_text()
    assert all(f'src="{name}"' in page for name in pngs)
    assert "tiny_64" in page and str(photo) in page
