"""Tiny data and tiny models for the search tests: the synthetic demo at 32px and two throwaway registered models."""
from __future__ import annotations

import os
from pathlib import Path

import keras
import pytest

from deepfake_zoo import zoo
from deepfake_zoo.datasets.demo import make_demo_dataset
from deepfake_zoo.datasets.manifest import build_manifest
from deepfake_zoo.search.config import make_config
from deepfake_zoo.zoo.search_space import Categorical, Float, Int

# Registered from the test module itself: the search must run a model it has never heard of, with no other edit.
TINY_SPACE = {"learning_rate": Float(1e-3, 3e-2, log=True), "head_units": Int(4, 16, step=4),
              "dropout": Float(0.0, 0.3), "augment": Categorical(("none", "flip"))}


def _tiny_backbone(image_size, weights_path):
    return keras.Sequential([keras.Input((image_size, image_size, 3)),
                             keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
                             keras.layers.Conv2D(8, 3, strides=2, activation="relu")])


TINY_MODELS = (("tiny_search_frozen", True), ("tiny_search_finetune", False))


@pytest.fixture(scope="package", autouse=True)
def tiny_models():
    """Register the tiny models for the search tests only, and remove them after, so other rooms never see them."""
    for name, frozen in TINY_MODELS:
        zoo.register_model(name, family="tiny_search", input_size=32, sizes=(32, 48), frozen=frozen,
                           preprocessing="unit", search_space=TINY_SPACE)(_tiny_backbone)
    yield [name for name, _ in TINY_MODELS]
    for name, _ in TINY_MODELS:
        zoo.unregister_model(name)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL database of DEEPFAKE_ZOO_PG_URL; skips (fails in CI) without it."""
    url = os.environ.get("DEEPFAKE_ZOO_PG_URL")
    if not url:
        pytest.skip("set DEEPFAKE_ZOO_PG_URL to a PostgreSQL database (.ci/run starts one on loopback)")
    return url


@pytest.fixture(scope="session")
def demo_manifest(tmp_path_factory) -> Path:
    """A manifest over a small synthetic demo dataset (seeded): 40 images per class at 32px."""
    root = tmp_path_factory.mktemp("demo")
    data = make_demo_dataset(root / "data", seed=0, n_per_class=40, image_size=32)
    manifest = root / "build" / "splits.csv"
    build_manifest(data, manifest, seed=0)
    return manifest


@pytest.fixture
def config_for(tmp_path, demo_manifest):
    """A search config writing under this test's tmp folder, on the demo manifest."""
    def make(**values):
        base = {"manifest": str(demo_manifest), "runs": str(tmp_path / "runs"),
                "cache_dir": str(tmp_path / "features"), "trials": 3, "epochs": 2, "seed": 0}
        return make_config({**base, **values})
    return make
