"""Shared test fixtures and the strict mode CI uses (a skipped test fails there instead of passing quietly)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from deepfake_zoo.datasets.manifest import build_manifest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
STRICT = os.environ.get("DEEPFAKE_ZOO_STRICT") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In strict mode (CI) a skip is a failure: every real-data, browser and PostgreSQL test must really run."""
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in strict mode (DEEPFAKE_ZOO_STRICT=1): {report.longrepr}"


@pytest.fixture(scope="session")
def real_data_root() -> Path:
    """The folder holding the real Kaggle-layout datasets, from DEEPFAKE_ZOO_DATA; skips (fails in CI) without it."""
    root = os.environ.get("DEEPFAKE_ZOO_DATA")
    if not root or not Path(root).is_dir():
        pytest.skip("set DEEPFAKE_ZOO_DATA to the folder holding deepfake-faces/ and real-and-fake-face/")
    return Path(root)


@pytest.fixture(scope="session")
def real_manifest(real_data_root, tmp_path_factory):
    """(path, report) of one manifest over the real datasets, built once (about 20 s of hashing) for every test."""
    path = tmp_path_factory.mktemp("real") / "build" / "splits.csv"
    report = build_manifest(real_data_root, path, seed=0)
    return path, report


@pytest.fixture(scope="session")
def keras_weights_available() -> Path:
    """$KERAS_HOME/models when it holds the MobileNetV2 ImageNet weights; skips (fails in CI) without them."""
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
    if not (home / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5").exists():
        pytest.skip(f"MobileNetV2 ImageNet weights not found in {home}")
    return home
