"""What the browser tests share: where Chromium is, and how it is started headless, offline and quiet."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def chromium() -> str:
    """CHROMIUM or /usr/bin/chromium; skips (a failure in CI's strict mode) when it is not there."""
    path = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        pytest.skip(f"no Chromium at {path}: install Debian's chromium or set CHROMIUM")
    return path
