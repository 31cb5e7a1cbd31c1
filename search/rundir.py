"""The folders a search writes: runs/<model>/ switches from one complete result to the next in one step.

A result is written whole into runs/.staging/<model>@XXXX/, then swapped with runs/<model>/ by renames, so a reader
(predict, the leaderboard) sees the old result or the new one, never a new model.keras beside an old metrics.json.
A study's own working files (its trial checkpoints) live apart, in runs/_studies/<model>/<study>/, so no study ever
touches another's files and the swap never carries them.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

STAGING_DIR = ".staging"  # hidden: the leaderboard skips it, and predict finds no model.keras directly in it
STUDIES_DIR = "_studies"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def study_dir(runs_dir: Path, model: str, study: str) -> Path:
    return Path(runs_dir) / STUDIES_DIR / model / study


@contextlib.contextmanager
def publishing(runs_dir: Path, model: str) -> Iterator[Path]:
    """A fresh folder beside runs/<model>/ to write a complete result into; when the block ends cleanly it becomes
    runs/<model>/ in one step, and when it raises the previous result is left as it was.

    Workers publishing the same model take turns (a file lock), so tidying what a killed one left never removes a
    live one's folder.
    """
    parent = Path(runs_dir) / STAGING_DIR
    parent.mkdir(parents=True, exist_ok=True)
    with open(parent / f"{model}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            recover(runs_dir, model)
            staging = Path(tempfile.mkdtemp(prefix=f"{model}@", dir=parent))
            try:
                yield staging
                os.chmod(staging, 0o755)  # mkdtemp makes it private; results are meant to be read by others
                swap_in(staging, Path(runs_dir) / model)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def recover(runs_dir: Path, model: str) -> None:
    """Tidy what a killed swap left: an old result set aside is put back if no result took its place; the rest goes.

    Call it holding the model's publishing lock."""
    parent = Path(runs_dir) / STAGING_DIR
    target = Path(runs_dir) / model
    if not parent.is_dir():
        return
    for leftover in sorted(parent.glob(f"{model}@*")):
        if leftover.name.endswith(".old") and not target.exists():
            os.rename(leftover, target)
        else:
            shutil.rmtree(leftover, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with Linux's renameat2(RENAME_EXCHANGE); False where it is not available."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def swap_in(new: Path, target: Path) -> None:
    """Make the complete folder `new` become `target`; the previous `target` is removed after the switch."""
    new, target = Path(new), Path(target)
    if not target.exists():
        os.rename(new, target)
        return
    legacy = target / "checkpoints"
    if legacy.is_dir() and not (new / "checkpoints").exists():
        # Checkpoints of an older layout belong to some study: carried over, never deleted by a swap.
        os.rename(legacy, new / "checkpoints")
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # now the old result
        return
    # Without an atomic exchange the target is missing for a moment between two renames; `recover` mends a kill there.
    old = new.with_name(new.name + ".old")
    os.rename(target, old)
    try:
        os.rename(new, target)
    except OSError:
        os.rename(old, target)  # the previous result back under its name, as if nothing happened
        raise
    shutil.rmtree(old, ignore_errors=True)


def check_writable(*folders: Path) -> None:
    """Raise a one-line error naming the first folder a search could not write to, before any trial runs."""
    for folder in folders:
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=".write-check-", dir=folder)
            os.close(fd)
            os.unlink(name)
        except OSError as err:
            reason = err.strerror or type(err).__name__
            raise PermissionError(f"cannot write to {folder} ({reason}): make it a writable folder "
                                  f"(e.g. chmod u+w {folder}) or pass --runs DIR") from None
