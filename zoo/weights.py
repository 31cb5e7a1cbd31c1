"""Find pretrained weight files in Keras' own cache ($KERAS_HOME/models, default ~/.keras/models), offline first."""
from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path
from urllib.parse import urlparse


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights were asked for but the file is not in the Keras cache and could not be downloaded."""


def keras_cache_dirs() -> list[Path]:
    """Folders where Keras keeps downloaded weights, in the order it uses them: $KERAS_HOME (or ~/.keras), then /tmp."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    # keras.utils.get_file falls back to <tmp>/.keras when the home folder is not writable.
    fallback = os.path.join(tempfile.gettempdir(), ".keras")
    return [Path(home) / "models", Path(fallback) / "models"]


def downloads_allowed() -> bool:
    """Whether a missing weights file may be downloaded: yes unless DEEPFAKE_ZOO_OFFLINE=1 (the tests set it)."""
    return os.environ.get("DEEPFAKE_ZOO_OFFLINE", "") != "1"


def _reachable(url: str, timeout: float = 5.0) -> bool:
    # keras.utils.get_file has no timeout, so a firewalled host would hang it; probe the host briefly first.
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def find_weights_file(file_name: str) -> Path | None:
    """The cached weights file `file_name`, or None when no Keras cache folder holds it."""
    for folder in keras_cache_dirs():
        candidate = folder / file_name
        if candidate.is_file() and candidate.stat().st_size > 0:
            return candidate
    return None


def ensure_weights_file(model_name: str, file_name: str, url: str | None, allow_download: bool | None = None) -> Path:
    """Return the local path of `file_name`, downloading it into the Keras cache only when missing and allowed.

    `allow_download=None` follows `downloads_allowed()`. Raises WeightsUnavailableError naming the file and where
    to put it when it is missing and cannot (or may not) be downloaded.
    """
    found = find_weights_file(file_name)
    if found is not None:
        return found
    target = keras_cache_dirs()[0]
    where = f"put {file_name} in {target} (set KERAS_HOME to use another cache) or pass weights='none'"
    if allow_download is None:
        allow_download = downloads_allowed()
    if not allow_download or not url:
        raise WeightsUnavailableError(f"ImageNet weights for {model_name} are not cached and downloads are off: {where}")
    if not _reachable(url):
        raise WeightsUnavailableError(f"ImageNet weights for {model_name} are not cached and {url} is unreachable: {where}")
    import keras

    try:
        path = keras.utils.get_file(file_name, origin=url, cache_subdir="models", cache_dir=str(target.parent))
    except Exception as exc:  # any network or disk failure means the same thing to the caller
        raise WeightsUnavailableError(f"downloading ImageNet weights for {model_name} failed ({exc}): {where}") from exc
    return Path(path)
