"""Check one image file before it enters the manifest: hash it, size it, and skip or convert what TensorFlow can't read.

The training pipeline decodes with `tf.io.decode_image(channels=3)`, which only reads JPEG/PNG/BMP/GIF and silently
drops alpha or expands grayscale. So every file is screened once here: clean 8-bit RGB JPEG/PNG files are used as they
are; files that can be made RGB without losing what a detector looks at are re-written as PNG under
`build/converted/`; everything else is skipped with a reason the report counts. Labels are never touched here.
"""
from __future__ import annotations

import hashlib
import io
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from deepfake_zoo import atomic

# 50 megapixels is ~150 MB decoded; face crops are far smaller, so anything above is a mistake or a decompression bomb.
MAX_PIXELS = 50_000_000

# Skip reasons (keys in the report) and what each means, in the order the report lists them.
SKIP_REASONS = {
    "empty": "zero-byte file",
    "not_an_image": "not an image file PIL can identify",
    "truncated": "truncated image data",
    "corrupt": "corrupt image data",
    "too_large": f"more than {MAX_PIXELS:,} pixels (decompression-bomb guard)",
    "transparent": "has transparent pixels: no lossless RGB version",
    "unsupported_mode": "pixel format with no faithful 8-bit RGB version (e.g. float)",
    "missing_file": "listed in metadata.csv but the image file is missing",
    "broken_link": "symbolic link whose target does not exist",
    "not_a_file": "not a regular file (a FIFO, socket or device): never read, so it cannot hang the build",
    "unreadable": "the file could not be read (permission denied or an I/O error)",
    "bad_file_name": "file name is not valid UTF-8, so the UTF-8 manifest cannot hold it: rename the file",
    "hidden_file": "hidden file (name starts with '.', e.g. .DS_Store or macOS ._ copies)",
    "no_metadata_row": "image file with no row in metadata.csv",
    "bad_label": "metadata.csv label is neither REAL nor FAKE (or the video is listed twice with different labels)",
    "conflicting_labels": "byte-identical files carry different labels: all copies dropped",
    "duplicate_across_splits": "byte-identical copy of a file kept in another split of a pre-split source",
    "linked_across_splits": "its group is tied to files fixed in another split of a pre-split source",
    "no_face": "the face detector found no face to crop (--faces crop or auto)",
}

# Conversions (keys in the report): each is lossless for a face detector, which sees 8-bit RGB.
CONVERSIONS = {
    "grayscale": "grayscale -> RGB (channel replicated)",
    "cmyk": "CMYK -> RGB",
    "sixteen_bit": "16-bit -> 8-bit RGB",
    "opaque_alpha": "alpha channel fully opaque -> dropped",
    "palette": "palette -> RGB",
    "other_format": "format TensorFlow should not read (BMP, GIF, TIFF, WebP, ...) -> PNG",
}


@dataclass(frozen=True)
class Screened:
    """What screening found for one file: `skip` is a SKIP_REASONS key or None; `path` is the file to train on.

    `rgb` is the decoded uint8 (height, width, 3) image, filled only when `screen_image` was called without a
    `converted_dir` (the `predict` way); `source_path` is None when bytes were screened.
    """

    source_path: Path | None
    path: Path | None = None
    sha256: str = ""
    width: int = 0
    height: int = 0
    skip: str | None = None
    conversion: str | None = None
    detail: str = ""
    rgb: np.ndarray | None = field(default=None, repr=False, compare=False)


def _read(source: str | Path | bytes) -> tuple[bytes | None, str | None, str]:
    """Return (bytes, None, "") or (None, skip reason, detail); only regular files are opened, so a FIFO never hangs."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None, ""
    path = Path(source)
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return None, "not_a_file", ""
        return path.read_bytes(), None, ""
    except FileNotFoundError:
        return None, ("broken_link" if path.is_symlink() else "missing_file"), ""
    except OSError as exc:
        return None, "unreadable", exc.strerror or type(exc).__name__


def _png_bit_depth(data: bytes) -> int:
    # IHDR is always the first chunk: 8-byte signature, 4 length, 4 type, 4 width, 4 height, then the bit depth.
    return data[24] if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 24 else 8


def _failure_kind(exc: BaseException) -> str:
    text = str(exc).lower()
    return "truncated" if "truncated" in text or "premature end" in text else "corrupt"


def _to_rgb(image: Image.Image, sixteen_bit: bool) -> tuple[Image.Image | None, str | None, str | None]:
    """Return (rgb image, conversion key, skip key) for a fully loaded non-RGB image."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        values = np.asarray(image, dtype=np.float64)
        # 16-bit data spans 0..65535; /257 maps it onto 0..255 exactly at both ends.
        gray = np.clip(np.round(values / 257.0), 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB"), "sixteen_bit", None
    if mode == "F":
        return None, None, "unsupported_mode"
    if mode == "CMYK":
        return image.convert("RGB"), "cmyk", None
    if mode == "P":
        has_alpha = "transparency" in image.info or image.palette.mode == "RGBA"
        if not has_alpha:
            return image.convert("RGB"), "palette", None
        image, mode = image.convert("RGBA"), "RGBA"
    if mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        alpha = np.asarray(image.getchannel("A"))
        if alpha.min() < 255:
            return None, None, "transparent"
        rgb = image.convert("RGB") if mode != "LA" else image.convert("L").convert("RGB")
        return rgb, ("sixteen_bit" if sixteen_bit else "opaque_alpha"), None
    if mode in ("L", "1"):
        return image.convert("RGB"), ("sixteen_bit" if sixteen_bit else "grayscale"), None
    try:
        return image.convert("RGB"), ("sixteen_bit" if sixteen_bit else "other_format"), None
    except (ValueError, OSError):
        return None, None, "unsupported_mode"


def screen_image(path: str | Path | bytes, converted_dir: str | Path | None = None,
                 max_pixels: int = MAX_PIXELS) -> Screened:
    """Hash, size and fully decode one file; the one screening rule `data` and `predict` share.

    Never raises for a bad file: the problem comes back as `Screened.skip` (a `SKIP_REASONS` key: `too_large` above
    `max_pixels`, `transparent` for any alpha below 255, `empty`, `corrupt`, `not_a_file` for a FIFO, ...).
    With `converted_dir` (the `data` build): a file that needs converting is written as
    `<converted_dir>/<sha256[:24]>.png`, so identical inputs map to one converted file and rebuilds are byte-stable;
    `Screened.path` is the file to train on. Without it (`predict`): nothing is written, and `Screened.rgb` holds the
    uint8 RGB pixels the training pipeline would decode from that file. `path` may also be the file's bytes.

    >>> result = screen_image("photo.png")  # doctest: +SKIP
    >>> result.skip or result.rgb.shape  # doctest: +SKIP
    'transparent'
    """
    source = None if isinstance(path, (bytes, bytearray, memoryview)) else Path(path)
    data, skip, detail = _read(path)
    if skip:
        return Screened(source, skip=skip, detail=detail)
    if not data:
        return Screened(source, skip="empty")
    sha = hashlib.sha256(data).hexdigest()
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        return Screened(source, sha256=sha, skip="not_an_image")
    except Image.DecompressionBombError as exc:
        return Screened(source, sha256=sha, skip="too_large", detail=str(exc))
    except (OSError, SyntaxError, ValueError) as exc:
        return Screened(source, sha256=sha, skip=_failure_kind(exc), detail=str(exc))
    width, height = image.size
    if width * height > max_pixels:
        return Screened(source, sha256=sha, width=width, height=height, skip="too_large")
    sixteen_bit = _png_bit_depth(data) == 16
    clean = image.format in ("JPEG", "PNG") and image.mode == "RGB" and not sixteen_bit
    try:
        with warnings.catch_warnings():
            # PIL warns (not raises) on some damaged files; a warning during decode means TF may reject the file.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if clean and image.format == "JPEG" and converted_dir is not None:
                # Draft mode still entropy-decodes the whole stream (so truncation is caught) but skips most of the
                # inverse DCT: about twice as fast, which matters for 30k files.
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return Screened(source, sha256=sha, width=width, height=height, skip="too_large", detail=str(exc))
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        return Screened(source, sha256=sha, width=width, height=height, skip=_failure_kind(exc), detail=str(exc))
    if clean:
        rgb = None if converted_dir is not None else _decode_like_training(data)
        if converted_dir is None and rgb is None:
            return Screened(source, sha256=sha, width=width, height=height, skip="corrupt", detail="TensorFlow")
        return Screened(source, path=source, sha256=sha, width=width, height=height, rgb=rgb)
    rgb_image, conversion, skip = _to_rgb(image, sixteen_bit)
    if skip:
        return Screened(source, sha256=sha, width=width, height=height, skip=skip, detail=image.mode)
    if converted_dir is None:
        # The converted PNG is lossless, so these are exactly the pixels training reads back from it.
        return Screened(source, sha256=sha, width=width, height=height, conversion=conversion,
                        rgb=np.asarray(rgb_image, dtype=np.uint8))
    target = Path(converted_dir) / f"{sha[:24]}.png"
    if not target.exists():
        with atomic.atomic_path(target) as partial:
            rgb_image.save(partial, format="PNG")
    return Screened(source, path=target, sha256=sha, width=width, height=height, conversion=conversion)


def _decode_like_training(data: bytes) -> np.ndarray | None:
    """Decode a clean JPEG/PNG with the pipeline's own decoder (TensorFlow's JPEG pixels differ slightly from PIL's)."""
    # Imported here, not at the top: the `data` build's screening never needs TensorFlow.
    import tensorflow as tf

    from deepfake_zoo.datasets.images import decode_rgb

    try:
        return decode_rgb(tf.constant(data)).numpy()
    except tf.errors.OpError:
        return None
