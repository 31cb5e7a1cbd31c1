"""Sample frames from a video and cut out the largest face in each, framed like the DFDC faces_224 training crops."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

# The DFDC faces_224 crops are tight: measured with this detector on 40 random crops pasted onto a plain background,
# the crop side is 0.88x the longer side of MTCNN's box (10th-90th percentile 0.83-0.96), centred 0.05 box heights
# below the box centre (MTCNN's box reaches higher up the forehead than the crops do). Framing video faces the same
# way keeps them looking like what the models were trained on.
CROP_SCALE = 0.88
CROP_SHIFT_Y = 0.05
MIN_FACE_CONFIDENCE = 0.9
DETECTOR_MISSING = ("video input needs the MTCNN face detector, which ships its weights inside the `mtcnn` package; "
                    "install it with `pip install mtcnn==1.0.0`")


class VideoDecodeError(Exception):
    """A video file could not be opened or yielded no frames."""


class DetectorUnavailableError(Exception):
    """The face detector package is not installed; the message names the install command."""


@dataclass(frozen=True)
class Box:
    """A face box in pixels (x, y = top-left corner) with the detector's confidence."""

    x: float
    y: float
    width: float
    height: float
    confidence: float

    @property
    def area(self) -> float:
        return self.width * self.height


def sample_frames(path: str, n: int) -> tuple[list[np.ndarray], list[int], int]:
    """Decode `n` frames spread evenly over the video (first and last included) as uint8 RGB arrays.

    Returns (frames, their 0-based frame indices, the number of frames in the video). Frames are reached by decoding
    in order rather than seeking, because seeking lands on the wrong frame with some codecs. Fewer than `n` frames
    come back when the video is shorter. Raises VideoDecodeError when the file cannot be opened or decoded.
    """
    import cv2

    if n < 1:
        raise ValueError(f"frames must be at least 1, got {n}; pass --frames 1 or more")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise VideoDecodeError(f"cannot open video {path}; is it a readable video file?")
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if total <= 0:
            # Some containers do not store a frame count: count by decoding once, then decode again to pick.
            while capture.grab():
                total += 1
            capture.release()
            capture = cv2.VideoCapture(str(path))
        if total <= 0:
            raise VideoDecodeError(f"cannot decode any frame of video {path}; is it a supported, uncorrupted video?")
        wanted = sorted(set(np.linspace(0, total - 1, num=min(n, total)).round().astype(int).tolist()))
        frames, indices = [], []
        index = 0
        for target in wanted:
            while index < target and capture.grab():
                index += 1
            if index != target:
                break  # the stored frame count overstated the real length
            ok, frame = capture.read()
            if not ok:
                break
            index += 1
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            indices.append(target)
        if not frames:
            raise VideoDecodeError(f"cannot decode any frame of video {path}; is it a supported, uncorrupted video?")
        return frames, indices, total
    finally:
        capture.release()


@functools.lru_cache(maxsize=1)
def face_detector():
    """The shared MTCNN detector (built once per process: loading its three networks takes seconds).

    Raises DetectorUnavailableError naming the install command when the `mtcnn` package is missing.
    """
    try:
        from mtcnn import MTCNN
    except ImportError as exc:
        raise DetectorUnavailableError(DETECTOR_MISSING) from exc
    return MTCNN(device="CPU:0")


def largest_face(image: np.ndarray, min_confidence: float = MIN_FACE_CONFIDENCE) -> Box | None:
    """The largest face MTCNN finds in a uint8 RGB image with at least `min_confidence`, or None."""
    found = face_detector().detect_faces(np.ascontiguousarray(image))
    boxes = [Box(*(float(v) for v in face["box"]), confidence=float(face["confidence"]))
             for face in found if float(face["confidence"]) >= min_confidence]
    return max(boxes, key=lambda box: box.area, default=None)


def crop_face(image: np.ndarray, box: Box) -> np.ndarray:
    """Cut a square around `box` framed like the training crops, moved (and if needed shrunk) to stay in the image."""
    height, width = image.shape[:2]
    side = int(round(min(CROP_SCALE * max(box.width, box.height), height, width)))
    side = max(side, 1)
    centre_x = box.x + box.width / 2
    centre_y = box.y + box.height / 2 + CROP_SHIFT_Y * box.height
    left = int(round(min(max(centre_x - side / 2, 0), width - side)))
    top = int(round(min(max(centre_y - side / 2, 0), height - side)))
    return image[top:top + side, left:left + side]


def face_crops(frames: list[np.ndarray]) -> list[np.ndarray | None]:
    """For each frame, the crop of its largest face, or None when the frame has no face."""
    crops = []
    for frame in frames:
        box = largest_face(frame)
        crops.append(None if box is None else crop_face(frame, box))
    return crops
