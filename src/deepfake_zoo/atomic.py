"""Files appear whole or not at all: every room writes its outputs through here.

A search killed mid-write, a browser refreshing the leaderboard, or two workers finishing the same file must never see
half a file; writing to a temporary sibling and renaming it onto the target gives that on POSIX file systems.
This module depends on nothing in the project, so every room may import it without breaking the one-way data flow.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """A temporary path beside `target` (same suffix, so writers that look at it are happy) to write to.

    When the block finishes, the file is renamed onto `target`; when it raises, the partial file is removed and
    `target` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".part{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be read by others
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(target: str | Path, text: str) -> Path:
    """Write `text` (UTF-8) to `target` atomically; returns the target."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)
