"""Self-blended fakes: real training faces blended with a slightly altered copy of themselves (Self-Blended Images).

Shiohara and Yamasaki (CVPR 2022) showed that a detector trained on such blends learns what every face swap leaves
behind (a blend boundary, a colour and sharpness mismatch, a small misalignment) instead of one generator's
fingerprint, and generalises better to fakes of kinds it never saw. A blend needs only a real face and where its face
is: the five landmarks MTCNN gives (eyes, nose, mouth corners) are enough for a mask.

Only real images of the training split are ever blended, and a blend keeps its source's leakage group, so no
synthetic fake can carry a validation or test face into training.
"""
from __future__ import annotations

import functools
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from deepfake_zoo.atomic import atomic_path
from deepfake_zoo.progress import track

SOURCE_SUFFIX = "+sbi"


def original_source(sources: pd.Series) -> pd.Series:
    """Each row's source with a self-blend's `+sbi` taken off: blends are made from their source's faces and go
    where that source goes (held out with it, trained on with it)."""
    return sources.astype(str).str.removesuffix(SOURCE_SUFFIX)
LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
MIN_FACE_CONFIDENCE = 0.9
# How far the mask may reach beyond the nearest landmark, in face scales (`face_scale`), including the brow and chin extension,
# the random enlargement, the elastic deformation and the blur: what "outside the face" means for callers and tests.
MAX_MASK_REACH = 3.5
# The DFDC crops are tight around the face; MTCNN misses many faces that touch the image border, so detection runs
# on the image padded by this fraction of its side on every edge.
DETECT_PADDING = 0.25

Landmarks = np.ndarray  # (5, 2) float pixel coordinates (x, y) in LANDMARK_NAMES order
Detector = Callable[[np.ndarray], "Landmarks | None"]


class Blend(NamedTuple):
    """A self-blended image (uint8 RGB), the soft mask it was blended through ([0, 1]) and the blend ratio."""

    image: np.ndarray
    mask: np.ndarray
    ratio: float


def _check_landmarks(landmarks) -> np.ndarray:
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (5, 2) or not np.all(np.isfinite(points)):
        raise ValueError(f"landmarks must be 5 (x, y) points ({', '.join(LANDMARK_NAMES)}), got shape "
                         f"{points.shape}; pass what the face detector returned for one face")
    return points


def face_scale(landmarks) -> float:
    """The larger of the eye-to-mouth distance and the eye separation, in pixels (at least 1).

    Every size in the blend is drawn in this unit; taking the larger of the two keeps it a face's size for a face
    seen from below or turned aside, where one of them shrinks.
    """
    points = _check_landmarks(landmarks)
    eye_to_mouth = np.linalg.norm(points[3:].mean(axis=0) - points[:2].mean(axis=0))
    return float(max(eye_to_mouth, np.linalg.norm(points[1] - points[0]), 1.0))


def face_mask(shape: tuple[int, int], landmarks, rng: np.random.Generator) -> np.ndarray:
    """A soft face mask (float32, HxW, 1 inside, falling smoothly to 0) from 5 landmarks, randomly shaped.

    The five points span only eyes to mouth, so the outline adds brow points above the eyes and chin points below the
    mouth; it is then enlarged, drawn as its convex hull or as the ellipse around it, elastically deformed and
    Gaussian-blurred, so every blend has a differently shaped, soft boundary.
    """
    height, width = shape
    points = _check_landmarks(landmarks)
    scale = face_scale(points)
    down = points[3:].mean(axis=0) - points[:2].mean(axis=0)
    outline = np.vstack([points, points[:2] - 0.6 * down, points[3:] + 0.5 * down])
    centre = outline.mean(axis=0)
    outline = centre + (outline - centre) * rng.uniform(1.0, 1.25)

    hard = np.zeros((height, width), dtype=np.uint8)
    if rng.random() < 0.5:
        hull = cv2.convexHull(np.round(outline).astype(np.int32))
        cv2.fillConvexPoly(hard, hull, 1)
    else:
        (cx, cy), (w, h), angle = cv2.minAreaRect(outline.astype(np.float32))
        # The ellipse inscribed in the outline's bounding box would cut off the outline's extreme points; semi-axes
        # of side / sqrt(2) give the ellipse through the box's corners, which holds the whole outline.
        axes = (max(int(round(w / np.sqrt(2))), 1), max(int(round(h / np.sqrt(2))), 1))
        cv2.ellipse(hard, (int(round(cx)), int(round(cy))), axes, angle, 0, 360, 1, thickness=-1)

    # Elastic deformation: a smooth random displacement field, from a coarse grid of offsets scaled up.
    amplitude = rng.uniform(0.05, 0.2) * scale
    coarse = rng.uniform(-1.0, 1.0, size=(2, 4, 4)).astype(np.float32) * amplitude
    dx, dy = (cv2.resize(c, (width, height), interpolation=cv2.INTER_CUBIC) for c in coarse)
    grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
    mask = cv2.remap(hard.astype(np.float32), grid_x + dx, grid_y + dy, interpolation=cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    sigma = max(rng.uniform(0.08, 0.25) * scale, 0.8)
    mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_CONSTANT)
    peak = float(mask.max())
    return (mask / peak).astype(np.float32) if peak > 0 else mask.astype(np.float32)


def _jitter_colour(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Small hue, saturation, value, brightness and contrast changes (a swapped face never matches its host's tone)."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-4, 4)) % 180  # OpenCV's 8-bit hue runs 0..179
    hsv[..., 1] *= rng.uniform(0.85, 1.15)
    hsv[..., 2] *= rng.uniform(0.85, 1.15)
    out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    mean = out.mean()
    out = (out - mean) * rng.uniform(0.9, 1.1) + mean + rng.uniform(-12, 12)
    out += rng.uniform(-10, 10, size=3)  # per-channel shift
    return np.clip(out, 0, 255).astype(np.uint8)


def _change_sharpness(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blur, sharpen, or down- then up-scale: a pasted face rarely has its host's sharpness."""
    kind = rng.integers(3)
    if kind == 0:
        sigma = rng.uniform(0.5, 1.2)
        return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma)
    if kind == 1:
        soft = cv2.GaussianBlur(image, (0, 0), sigmaX=1.0, sigmaY=1.0).astype(np.float32)
        amount = rng.uniform(0.5, 1.5)
        return np.clip(image.astype(np.float32) * (1 + amount) - soft * amount, 0, 255).astype(np.uint8)
    height, width = image.shape[:2]
    factor = rng.uniform(0.5, 0.8)
    small = cv2.resize(image, (max(int(width * factor), 1), max(int(height * factor), 1)),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _shift_and_scale(image: np.ndarray, centre: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Scale by a few percent about the face centre and shift by a few percent of the face: a slight misalignment."""
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), 0.0, rng.uniform(0.95, 1.05))
    matrix[:, 2] += rng.uniform(-0.06, 0.06, size=2) * scale
    height, width = image.shape[:2]
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def self_blend(image: np.ndarray, landmarks, rng: np.random.Generator,
               blend_range: tuple[float, float] = (0.5, 1.0)) -> Blend:
    """Blend the face of a uint8 RGB image with a slightly transformed copy of itself through a soft face mask.

    The copy gets colour jitter, a sharpness change and a small scale and shift; the result is
    `copy * mask * ratio + image * (1 - mask * ratio)` with `ratio` drawn uniformly from `blend_range`, so every pixel
    where the mask is 0 is exactly the input's. Deterministic for a given `rng` state. Raises ValueError for an image
    that is not HxWx3 uint8 or landmarks that are not 5 (x, y) points.

    >>> blend = self_blend(face, landmarks, np.random.default_rng(0))  # doctest: +SKIP
    >>> blend.image.shape == face.shape  # doctest: +SKIP
    True
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"self_blend needs an HxWx3 uint8 RGB image, got {image.dtype} of shape {image.shape}")
    low, high = blend_range
    if not 0 < low <= high <= 1:
        raise ValueError(f"blend_range must satisfy 0 < low <= high <= 1, got {blend_range}")
    points = _check_landmarks(landmarks)
    scale = face_scale(points)
    mask = face_mask(image.shape[:2], points, rng)

    copy = _jitter_colour(image, rng)
    copy = _change_sharpness(copy, rng)
    copy = _shift_and_scale(copy, points.mean(axis=0), scale, rng)

    ratio = float(rng.uniform(low, high))
    weight = (mask * ratio)[..., None]
    blended = copy.astype(np.float32) * weight + image.astype(np.float32) * (1.0 - weight)
    return Blend(np.clip(np.rint(blended), 0, 255).astype(np.uint8), mask, ratio)


@functools.lru_cache(maxsize=1)
def _mtcnn():
    # Built once per process: loading MTCNN's three networks takes seconds.
    try:
        from mtcnn import MTCNN
    except ImportError as exc:
        raise RuntimeError("self-blended fakes need the MTCNN face detector, which ships its weights inside the "
                           "`mtcnn` package; install it with `pip install mtcnn==1.0.0`") from exc
    return MTCNN(device="CPU:0")


def detect_landmarks(image: np.ndarray, min_confidence: float = MIN_FACE_CONFIDENCE) -> Landmarks | None:
    """The 5 landmarks of the largest face MTCNN finds in a uint8 RGB image (at least `min_confidence`), or None.

    On 20 random real DFDC crops, 19 were found as they are and all 20 once padded.
    """
    # predict.video has the same detector, but predict sits above datasets; once datasets.faces holds the shared
    # MTCNN, this should call it instead of building its own.
    height, width = image.shape[:2]
    pad = int(round(DETECT_PADDING * max(height, width)))
    padded = cv2.copyMakeBorder(np.ascontiguousarray(image), pad, pad, pad, pad, cv2.BORDER_CONSTANT,
                                value=(127, 127, 127))
    faces = [face for face in _mtcnn().detect_faces(padded) if float(face["confidence"]) >= min_confidence]
    if not faces:
        return None
    largest = max(faces, key=lambda face: float(face["box"][2]) * float(face["box"][3]))
    points = np.array([largest["keypoints"][name] for name in LANDMARK_NAMES], dtype=np.float64) - pad
    return points


@dataclass
class SelfBlended:
    """What `make_self_blended` made: new manifest rows, skips by reason, and how many input rows were not eligible."""

    rows: pd.DataFrame
    skips: Counter = field(default_factory=Counter)
    ineligible: int = 0


def _row_key(row) -> str:
    sha = str(row.get("sha256", ""))
    if len(sha) == 64 and all(c in "0123456789abcdef" for c in sha.lower()):
        return sha.lower()
    return hashlib.sha256(str(row["path"]).encode()).hexdigest()


def _image_rng(seed: int, key: str) -> np.random.Generator:
    # Keyed on the image's content, not its row position: the same image gets the same blend whatever else the
    # manifest holds or in which order.
    return np.random.default_rng([int(seed), int(key[:16], 16)])


# Part of every blend file's name: a change to how blends are made must not reuse files made the old way.
BLEND_VERSION = 1


def _blend_row(row: dict, target: Path, width: int, height: int) -> dict:
    """The manifest row of a blend: a fake of the training split, in its source's group (never leaves its split)."""
    return {**row, "path": str(target.resolve()), "label": 1, "split": "train",
            "source": f"{row['source']}{SOURCE_SUFFIX}", "group": row["group"],
            "sha256": hashlib.sha256(target.read_bytes()).hexdigest(), "width": width, "height": height}


def make_self_blended(frame: pd.DataFrame, out_dir: str | Path, ratio: float = 1.0, seed: int = 0,
                      detect: Detector | None = None, blend_range: tuple[float, float] = (0.5, 1.0),
                      quiet: bool = False) -> SelfBlended:
    """Self-blended fakes from the real training rows of a manifest, written under `out_dir`, as new manifest rows.

    Only rows with label 0 and split `train` are used; every other row (validation, test, fakes, earlier blends) is
    counted in `ineligible` and never read. A seeded draw of `ratio` (0 < ratio <= 1) of them is blended, each keyed
    on its content hash and `seed`. `detect` maps a uint8 RGB image to 5 landmarks or None (default: MTCNN on the
    padded image); an image with no face, or one that cannot be read, is a counted skip. New rows copy their source
    row and set label 1, split `train`, source `<source>+sbi`, the source's group (so a blend lands wherever its
    source does) and the new file's path, sha256, width and height. A JPEG source gives a JPEG blend (quality 95, so
    blends are compressed like the real images they are told apart from), any other a PNG. Files are written
    atomically. Raises ValueError when no real training row exists or `ratio` is out of range.

    >>> made = make_self_blended(load_manifest(), "build/sbi", ratio=0.5, seed=0)  # doctest: +SKIP
    >>> manifest = pd.concat([load_manifest(), made.rows])  # doctest: +SKIP
    """
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio must be in (0, 1] (the fraction of real training images to blend), got {ratio}")
    eligible = (frame["label"].astype(int) == 0) & (frame["split"].astype(str) == "train")
    eligible &= ~frame["source"].astype(str).str.endswith(SOURCE_SUFFIX)
    reals = frame[eligible].reset_index(drop=True)
    if reals.empty:
        raise ValueError("no real training images in the manifest rows: self-blended fakes are made only from rows "
                         "with label 0 and split 'train'; pass the whole manifest")
    count = int(round(ratio * len(reals)))
    picked = np.sort(np.random.default_rng(seed).choice(len(reals), size=max(count, 1), replace=False))
    detect = detect or detect_landmarks
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    made, skips = [], Counter()
    for position in track(picked, len(picked), "self-blended fakes", quiet=quiet):
        row = reals.iloc[int(position)].to_dict()
        key = _row_key(row)
        jpeg = Path(row["path"]).suffix.lower() in (".jpg", ".jpeg")
        settings = hashlib.sha256(repr((blend_range, BLEND_VERSION)).encode()).hexdigest()[:6]
        target = out_dir / f"{Path(row['path']).stem}-{key[:12]}-sbi{seed}-{settings}.{'jpg' if jpeg else 'png'}"
        if target.is_file():
            # Written atomically, so a file under its final name is complete: a rebuild detects and blends nothing.
            with Image.open(target) as done:
                width, height = done.size
            made.append(_blend_row(row, target, width, height))
            continue
        try:
            with Image.open(row["path"]) as opened:
                image = np.asarray(opened.convert("RGB"))
        except (OSError, ValueError):
            skips["unreadable image"] += 1
            continue
        landmarks = detect(image)
        if landmarks is None:
            skips["no face found"] += 1
            continue
        blend = self_blend(image, landmarks, _image_rng(seed, key), blend_range=blend_range)
        with atomic_path(target) as tmp:
            if jpeg:
                Image.fromarray(blend.image).save(tmp, format="JPEG", quality=95)
            else:
                Image.fromarray(blend.image).save(tmp, format="PNG")
        made.append(_blend_row(row, target, blend.image.shape[1], blend.image.shape[0]))
    columns = list(frame.columns) + [c for c in ("sha256", "width", "height") if c not in frame.columns]
    rows = pd.DataFrame(made, columns=columns)
    return SelfBlended(rows=rows, skips=skips, ineligible=int((~eligible).sum()))
