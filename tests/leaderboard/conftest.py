"""Fixtures for the leaderboard tests; the result-folder generator itself lives in leaderboard_fixtures.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from leaderboard_fixtures import write_fixture_runs


@pytest.fixture
def fixture_runs(tmp_path: Path) -> tuple[Path, dict[str, dict]]:
    """Three models of clearly different quality (one named to attack the page) plus one broken run folder."""
    runs = tmp_path / "runs"
    return runs, write_fixture_runs(runs)
