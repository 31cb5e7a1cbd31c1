"""Find faces and cut each out like the DFDC faces_224 training crops: one face step for stills, video frames and data.

The models were trained on tight square face crops. A photo or a video frame is not one: resizing a whole photo to
the model's input turns a face that fills a fifth of it into a few pixels. So every input that is not already a
face crop goes through here first: MTCNN (its weights ship inside the `mtcnn` package, so nothing is fetched at run
time) finds the faces, and each is cropped square with the training crops' margin, then resized as in training.

>>> crops = [crop_face(image, box) for box in detect_faces(image)]  # doctest: +SKIP
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

# The DFDC faces_224 crops are tight: measured with this detector on 40 random crops pasted onto a plain background,
# the crop side is 0.88x the longer side of MTCNN's box (10th-90th percentile 0.83-0.96), centred 0.05 box heights
# below the box centre (MTCNN's box reaches higher up the forehead than the crops do). Framing faces the same way
# keeps them looking like what the models were trained on.
CROP_SCALE = 0.88
CROP_SHIFT_Y = 0.05
MIN_FACE_CONFIDENCE = 0.9
# A face whose box spans this much of the image's shorter side is already framed like a training crop (there the box
# is ~1.1x the crop side); cropping it again would only cut away the margin the model was trained with.
TIGHT_CROP_FRACTION = 0.7
# Faces smaller than this (box side in pixels) are too blurred once upscaled to say anything about; MTCNN finds
# background faces of 12-20 px in crowds, and scoring them would let noise decide the image verdict.
MIN_FACE_SIDE = 24
DETECTOR_MISSING = ("face detection needs the MTCNN face detector, which ships its weights inside the `mtcnn` "
                    "package; install it with `pip install mtcnn==1.0.0`")

FACE_MODES = ("auto", "crop", "none")


class DetectorUnavailableError(RuntimeError):
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

    def as_list(self) -> list[int]:
        """[x, y, width, height] rounded to whole pixels, as the JSON report and the page carry it."""
        return [int(round(v)) for v in (self.x, self.y, self.width, self.height)]


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


def detect_faces(image: np.ndarray, min_confidence: float = MIN_FACE_CONFIDENCE,
                 min_side: float = MIN_FACE_SIDE) -> list[Box]:
    """Every face MTCNN finds in a uint8 RGB image with at least `min_confidence`, largest first.

    Boxes are clipped to the image; faces whose longer side is under `min_side` pixels are left out.
    """
    image = np.ascontiguousarray(image, dtype=np.uint8)
    height, width = image.shape[:2]
    if min(height, width) < 12:
        return []  # below MTCNN's smallest window: it would fail rather than find nothing
    boxes = []
    for face in face_detector().detect_faces(image):
        confidence = float(face["confidence"])
        x, y, w, h = (float(v) for v in face["box"])
        left, top = max(x, 0.0), max(y, 0.0)
        right, bottom = min(x + w, float(width)), min(y + h, float(height))
        if confidence < min_confidence or right <= left or bottom <= top or max(w, h) < min_side:
            continue
        boxes.append(Box(left, top, right - left, bottom - top, confidence))
    return sorted(boxes, key=lambda box: box.area, reverse=True)


def largest_face(image: np.ndarray, min_confidence: float = MIN_FACE_CONFIDENCE) -> Box | None:
    """The largest face MTCNN finds in a uint8 RGB image with at least `min_confidence`, or None."""
    boxes = detect_faces(image, min_confidence, min_side=0)
    return boxes[0] if boxes else None


def is_tight_crop(image: np.ndarray, box: Box) -> bool:
    """Whether `image` is already a face crop like the training data: its face spans most of its shorter side."""
    return max(box.width, box.height) >= TIGHT_CROP_FRACTION * min(image.shape[:2])


def crop_window(image_shape: tuple[int, ...], box: Box) -> tuple[int, int, int]:
    """(left, top, side) of the square cut around `box` framed like the training crops, kept inside the image."""
    height, width = image_shape[:2]
    side = int(round(min(CROP_SCALE * max(box.width, box.height), height, width)))
    side = max(side, 1)
    centre_x = box.x + box.width / 2
    centre_y = box.y + box.height / 2 + CROP_SHIFT_Y * box.height
    left = int(round(min(max(centre_x - side / 2, 0), width - side)))
    top = int(round(min(max(centre_y - side / 2, 0), height - side)))
    return left, top, side


def crop_face(image: np.ndarray, box: Box) -> np.ndarray:
    """Cut a square around `box` framed like the training crops, moved (and if needed shrunk) to stay in the image."""
    left, top, side = crop_window(image.shape, box)
    return image[top:top + side, left:left + side]


def face_crops(frames: list[np.ndarray]) -> list[np.ndarray | None]:
    """For each frame, the crop of its largest face, or None when the frame has no face."""
    crops = []
    for frame in frames:
        box = largest_face(frame)
        crops.append(None if box is None else crop_face(frame, box))
    return crops


def crop_for_model(image: np.ndarray, box: Box, image_size: int) -> np.ndarray:
    """The face in `box` cropped like the training crops and resized as in training: float32 (size, size, 3)."""
    from deepfake_zoo.datasets.images import resize_for_model

    return np.asarray(resize_for_model(crop_face(image, box), image_size))
