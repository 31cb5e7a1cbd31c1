"""Sample frames evenly from a video; the face in each is found and cropped by deepfake_zoo.datasets.faces."""
from __future__ import annotations

import numpy as np

# The face step is shared with still images and training data; these names stay importable from here for callers
# that knew them as video helpers.
from deepfake_zoo.datasets.faces import (  # noqa: F401
    CROP_SCALE, CROP_SHIFT_Y, DETECTOR_MISSING, MIN_FACE_CONFIDENCE, Box, DetectorUnavailableError, crop_face,
    face_crops, face_detector, largest_face,
)


class VideoDecodeError(Exception):
    """A video file could not be opened or yielded no frames."""


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
