"""Fixtures for the datasets tests: data folders of small generated images."""
from __future__ import annotations

from pathlib import Path

import pytest

from imagefiles import make_folder_dataset, make_metadata_dataset


@pytest.fixture
def two_sources(tmp_path: Path) -> Path:
    """A data folder holding a pre-split folder-layout dataset and a metadata-layout dataset."""
    data = tmp_path / "data"
    make_folder_dataset(data / "folderset" / "Dataset", {("Train", "Real"): 8, ("Train", "Fake"): 7,
                                                         ("Validation", "Real"): 3, ("Validation", "Fake"): 2,
                                                         ("Test", "Real"): 2, ("Test", "Fake"): 3}, seed=1)
    make_metadata_dataset(data / "faceset", n_real=20, fakes_per_real=[1, 2, 3], seed=2)
    return data
