"""Video decoding, even frame sampling and face framing (synthetic videos need no data; detection uses real faces)."""
from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest

from deepfake_zoo.predict.video import Box, VideoDecodeError, crop_face, largest_face, sample_frames


def write_counting_video(path, frames: int) -> None:
    """An MJPG video whose frame i is a flat grey of value 20*i, so decoded frames reveal their index."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), 20 * i, dtype=np.uint8))
    writer.release()


def test_frames_are_sampled_evenly_including_first_and_last(tmp_path):
    path = tmp_path / "count.avi"
    write_counting_video(path, 11)
    frames, indices, total = sample_frames(str(path), 6)
    assert total == 11
    assert indices == [0, 2, 4, 6, 8, 10]
    # Frame content (grey level 20*i, give or take JPEG rounding) proves the decoder really landed on those frames.
    assert [round(float(f.mean()) / 20) for f in frames] == indices
    assert all(f.shape == (48, 64, 3) and f.dtype == np.uint8 for f in frames)


def test_short_videos_give_every_frame_once(tmp_path):
    path = tmp_path / "short.avi"
    write_counting_video(path, 3)
    frames, indices, total = sample_frames(str(path), 16)
    assert (len(frames), indices, total) == (3, [0, 1, 2], 3)


def test_undecodable_video_raises_a_clear_error(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    with pytest.raises(VideoDecodeError, match="broken.mp4"):
        sample_frames(str(path), 4)


def test_crop_is_square_and_stays_inside_the_frame():
    image = np.zeros((100, 160, 3), dtype=np.uint8)
    centred = crop_face(image, Box(x=60, y=30, width=40, height=50, confidence=1.0))
    assert centred.shape == (44, 44, 3)
    corner = crop_face(image, Box(x=-10, y=-20, width=80, height=100, confidence=1.0))
    assert corner.shape == (88, 88, 3)
    huge = crop_face(image, Box(x=0, y=0, width=160, height=150, confidence=1.0))
    assert huge.shape == (100, 100, 3)


@pytest.mark.realdata
@pytest.mark.slow
def test_detected_face_is_framed_like_the_training_crop(face_crops):
    """Real crops pasted on a background are found and re-cropped close to the original square (mean IoU >= 0.75).

    Single faces vary (on 57 random crops: mean 0.83, worst 0.58), so each only has to overlap clearly.
    """
    rng = np.random.default_rng(0)
    ious = []
    for path in face_crops["held_out"]:
        crop = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        canvas = cv2.GaussianBlur(rng.integers(60, 200, (400, 500, 3), dtype=np.uint8), (0, 0), 6)
        left, top = 150, 90
        canvas[top:top + 224, left:left + 224] = crop
        box = largest_face(canvas)
        assert box is not None, f"no face found in pasted {path.name}"
        # Find where crop_face cut by marking the canvas with coordinates.
        ys, xs = np.mgrid[0:400, 0:500]
        coords = np.stack([xs, ys, np.zeros_like(xs)], axis=-1)
        cut = crop_face(coords, box)
        x0, y0, side = cut[0, 0, 0], cut[0, 0, 1], cut.shape[0]
        overlap = max(0, min(x0 + side, left + 224) - max(x0, left)) * max(0, min(y0 + side, top + 224) - max(y0, top))
        ious.append(overlap / (side * side + 224 * 224 - overlap))
    assert np.mean(ious) >= 0.75 and min(ious) >= 0.5, ious


def test_missing_detector_package_names_the_install_command(monkeypatch):
    from deepfake_zoo.predict import video

    video.face_detector.cache_clear()
    monkeypatch.setitem(sys.modules, "mtcnn", None)  # makes `from mtcnn import MTCNN` fail
    try:
        with pytest.raises(video.DetectorUnavailableError, match=r"pip install mtcnn==1\.0\.0"):
            largest_face(np.zeros((32, 32, 3), dtype=np.uint8))
    finally:
        video.face_detector.cache_clear()
