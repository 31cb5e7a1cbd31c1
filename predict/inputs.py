"""Turn the paths a user gave (images, videos, folders searched recursively) into a flat list of work items."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# What datasets.images.decode_rgb (tf.io.decode_image) can read; anything else would fail inside TensorFlow with a
# less helpful message.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"})
# Containers OpenCV's bundled FFmpeg opens; whether the codec inside decodes is only known when frames are read.
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"})


@dataclass(frozen=True)
class InputItem:
    """One thing to score: `kind` is "image" or "video", or "error" with `error` saying what is wrong with it."""

    path: str
    kind: str
    error: str | None = None


def classify_file(path: Path) -> InputItem:
    """An InputItem for one file, by its suffix: image, video, or an "unsupported format" error."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return InputItem(str(path), "image")
    if suffix in VIDEO_SUFFIXES:
        return InputItem(str(path), "video")
    supported = ", ".join(sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES))
    return InputItem(str(path), "error", f"unsupported format {suffix or '(no extension)'!r}; give an image or video "
                                         f"({supported})")


def _not_regular(path: Path) -> InputItem:
    # Reading a FIFO blocks until a writer appears (forever, in a folder nobody writes to), and a device or socket
    # is no image either: only regular files are read.
    broken = path.is_symlink() and not path.exists()
    what = "a broken link" if broken else "not a regular file (a FIFO, socket or device?)"
    return InputItem(str(path), "error", f"{path} is {what}; give an image, video or folder")


def collect_inputs(paths: list[str | Path]) -> list[InputItem]:
    """Expand files and folders (recursively, sorted, hidden files skipped) into items, in the order given.

    Never raises for a bad path: a missing path, an empty folder or an unsupported file each becomes an item of kind
    "error" so the rest can still be scored.

    >>> [item.kind for item in collect_inputs(["no/such/file.jpg"])]
    ['error']
    """
    items: list[InputItem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(
                Path(root) / name
                for root, dirs, names in os.walk(path)
                for name in names
                if not name.startswith(".") and not any(part.startswith(".") for part in
                                                        Path(root).relative_to(path).parts)
            )
            if not files:
                items.append(InputItem(str(path), "error", f"folder {path} holds no files; point at images or videos"))
            items.extend(classify_file(file) if file.is_file() else _not_regular(file) for file in files)
        elif path.is_file():
            items.append(classify_file(path))
        elif path.exists():
            items.append(_not_regular(path))
        else:
            items.append(InputItem(str(path), "error", f"no such file or folder {path}; check the path"))
    return items
