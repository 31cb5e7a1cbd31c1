"""Fixtures for the zoo tests: never download weights, seed Keras, build each registered model once."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def offline_weights():
    """No zoo test may start a download: a missing weights file must raise WeightsUnavailableError at once."""
    previous = os.environ.get("DEEPFAKE_ZOO_OFFLINE")
    os.environ["DEEPFAKE_ZOO_OFFLINE"] = "1"
    yield
    if previous is None:
        os.environ.pop("DEEPFAKE_ZOO_OFFLINE", None)
    else:
        os.environ["DEEPFAKE_ZOO_OFFLINE"] = previous


@pytest.fixture(autouse=True)
def seeded():
    """Seed Python, NumPy and the backend so weight init and dropout are the same every run."""
    import keras

    keras.utils.set_random_seed(0)
