"""Fixtures for the leaderboard tests; the result-folder generator itself lives in leaderboard_fixtures.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from leaderboard_fixtures import EVIL_NAME, EVIL_SOURCE, make_run


@pytest.fixture
def fixture_runs(tmp_path: Path) -> tuple[Path, dict[str, dict]]:
    """Three models of clearly different quality (one named to attack the page) plus one broken run folder."""
    runs = tmp_path / "runs"
    metrics = {
        "mobilenet_v2_frozen": make_run(runs, "mobilenet_v2_frozen", 2.0, seed=1),
        "cnn": make_run(runs, "cnn", 0.9, seed=2, weights="none", train_sources=("deepfake-faces",), n_test=50),
        EVIL_NAME: make_run(runs, EVIL_NAME, 0.3, seed=3, folder="evil", synthetic=True, weights="none",
                            eval_sources=("deepfake-faces", EVIL_SOURCE), train_sources=(EVIL_SOURCE,)),
    }
    broken = runs / "broken"
    broken.mkdir()
    (broken / "metrics.json").write_text("{ not json")
    return runs, metrics
