"""Cut the face out of every image of a photo source for `deepfake-zoo data --faces crop|auto`, once per file content.

The models train on tight face crops. A source of photos where the face fills a fifth of the frame would teach them
background, so its rows are replaced by the crop `predict` would score: `datasets.faces` finds the largest face and
cuts it square with the training crops' margin. A row keeps its original's `sha256` and `group` (as converted rows
do), so the leakage audit and the split see the same files as without cropping.

Cache (`<manifest folder>/faces/`): per original content hash and framing, `<sha256[:24]>-<framing>.json` records what
the detector found (the box, or none) and `<...>.png` holds the crop, each written whole. A rebuild reads them and
runs no detector; changing the framing constants in `datasets.faces` changes `<framing>`, so stale crops are never
reused.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from deepfake_zoo import atomic
from deepfake_zoo.datasets import faces
from deepfake_zoo.progress import track

FACES_DIR = "faces"
# Enough images to tell a folder of face crops from a folder of photos (they differ in every image, not a few),
# few enough that deciding costs seconds even for a source that is then left alone.
SAMPLE_SIZE = 8
AUTO_RULE = (f"a source is taken as already face crops (and left whole) when at least half of a seeded sample of up "
             f"to {SAMPLE_SIZE} of its images have a largest face spanning >= {faces.TIGHT_CROP_FRACTION:g} of the "
             "image's shorter side, the rule predict --faces auto uses for 'already a crop' "
             "(datasets.faces.is_tight_crop)")


def framing_key() -> str:
    """A short digest of the constants that decide a crop: cached crops made with other constants are not reused."""
    text = "|".join(str(v) for v in (faces.CROP_SCALE, faces.CROP_SHIFT_Y, faces.MIN_FACE_CONFIDENCE,
                                      faces.MIN_FACE_SIDE, faces.TIGHT_CROP_FRACTION))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class Detection:
    """What the detector found in one image: its largest face (None: no face) and whether the image is a tight crop."""

    box: faces.Box | None
    tight: bool


@dataclass
class SourceFaces:
    """What `--faces` did to one source: whether it was cropped, the sample that decided it (auto), the counts."""

    cropped: bool
    sampled: int = 0
    tight: int = 0
    crops: int = 0
    no_face: int = 0
    detected: int = 0  # detector runs in this build; the rest came from the cache


@dataclass
class FaceCropCache:
    """Detections and crops under `folder`, keyed by the original file's sha256; `detections` counts detector runs."""

    folder: Path
    detections: int = field(default=0)

    def _stem(self, sha256: str) -> Path:
        return self.folder / f"{sha256[:24]}-{framing_key()}"

    def detect(self, sha256: str, path: str | Path, image: np.ndarray | None = None) -> Detection:
        """The cached detection for this content, or run the detector on the image at `path` and cache it."""
        record = self._stem(sha256).with_suffix(".json")
        if record.exists():
            saved = json.loads(record.read_text(encoding="utf-8"))
            box = faces.Box(*saved["box"]) if saved["box"] else None
            return Detection(box, bool(saved["tight"]))
        image = _decode(path) if image is None else image
        self.detections += 1
        boxes = faces.detect_faces(image)
        box = boxes[0] if boxes else None
        detection = Detection(box, box is not None and faces.is_tight_crop(image, box))
        saved = {"box": None if box is None else [box.x, box.y, box.width, box.height, box.confidence],
                 "tight": detection.tight}
        atomic.write_text(record, json.dumps(saved) + "\n")
        return detection

    def crop(self, sha256: str, path: str | Path) -> tuple[Path | None, int, int]:
        """(crop file, its width, its height) for the largest face in the image at `path`; (None, 0, 0) when none."""
        target = self._stem(sha256).with_suffix(".png")
        if target.exists():
            with Image.open(target) as done:
                return target, done.width, done.height
        record = self._stem(sha256).with_suffix(".json")
        if record.exists() and self.detect(sha256, path).box is None:
            return None, 0, 0  # known to have no face: not even decoded again
        image = _decode(path)
        detection = self.detect(sha256, path, image)
        if detection.box is None:
            return None, 0, 0
        crop = faces.crop_face(image, detection.box)
        with atomic.atomic_path(target) as partial:
            Image.fromarray(np.ascontiguousarray(crop), "RGB").save(partial, format="PNG")
        return target, crop.shape[1], crop.shape[0]


class DecodeError(ValueError):
    """TensorFlow could not decode a file that screening passed."""


def _decode(path: str | Path) -> np.ndarray:
    # The pipeline's own decoder, so a crop holds exactly the pixels training would have read from the whole file.
    import tensorflow as tf

    from deepfake_zoo.datasets.images import decode_rgb

    try:
        return decode_rgb(tf.io.read_file(str(path))).numpy()
    except tf.errors.OpError as exc:
        raise DecodeError(f"cannot decode {path}: {exc.message}") from exc


def _sample(rows: pd.DataFrame, seed: int, source: str) -> pd.DataFrame:
    import zlib

    if len(rows) <= SAMPLE_SIZE:
        return rows
    rng = np.random.default_rng([int(seed), zlib.crc32(f"faces|{source}".encode())])
    ordered = rows.sort_values("path", kind="stable")
    return ordered.iloc[np.sort(rng.choice(len(ordered), size=SAMPLE_SIZE, replace=False))]


def crop_sources(df: pd.DataFrame, mode: str, folder: str | Path, seed: int, skips: list,
                 cache: FaceCropCache | None = None) -> tuple[pd.DataFrame, dict[str, SourceFaces]]:
    """Rows of `df` with the face crop as `path` (and its size) for every source `mode` crops; no-face rows dropped.

    `mode` is "crop" (every source) or "auto" (sources that are not already face crops, by AUTO_RULE; "none" returns
    `df` as it is). Each dropped row is appended to `skips` as (source, "no_face", its original path). Needs columns
    path, source, sha256, width, height, source_path.
    Raises `datasets.faces.DetectorUnavailableError` when a source needs cropping and `mtcnn` is not installed.
    """
    if mode not in faces.FACE_MODES:
        raise ValueError(f"unknown face mode {mode!r}: use one of {', '.join(faces.FACE_MODES)} (e.g. --faces crop)")
    summary: dict[str, SourceFaces] = {}
    if mode == "none" or df.empty:
        return df, summary
    cache = cache or FaceCropCache(Path(folder))
    df = df.copy()
    keep = pd.Series(True, index=df.index)
    for source in sorted(df["source"].unique()):
        rows = df[df["source"] == source]
        info = SourceFaces(cropped=True)
        runs_before = cache.detections
        if mode == "auto":
            found = []
            for row in _sample(rows, seed, source).itertuples(index=False):
                try:
                    found.append(cache.detect(row.sha256, row.path))
                except DecodeError:
                    continue  # not a vote either way; the cropping pass below counts it as corrupt if it runs
            info.sampled, info.tight = len(found), sum(d.tight for d in found)
            info.cropped = 2 * info.tight < info.sampled
        summary[source] = info
        # Sequential on purpose: TensorFlow's intra-op threads already give one detection every core, and rebuilds read
        # the cache.
        pairs = zip(rows.index, rows.itertuples(index=False)) if info.cropped else iter(())
        for index, row in track(pairs, len(rows) if info.cropped else 0, f"face crops ({source})"):
            try:
                crop, width, height = cache.crop(row.sha256, row.path)
            except DecodeError:
                # Screening decoded it with PIL; TensorFlow, which training uses, could not: the same as corrupt.
                keep[index] = False
                skips.append((source, "corrupt", row.source_path))
                continue
            if crop is None:
                info.no_face += 1
                keep[index] = False
                skips.append((source, "no_face", row.source_path))
                continue
            info.crops += 1
            df.loc[index, ["path", "width", "height"]] = [str(crop.absolute()), width, height]
        info.detected = cache.detections - runs_before
    return df[keep], summary
