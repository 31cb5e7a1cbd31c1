"""The frozen-backbone feature cache: reused when nothing changed, recomputed when size or weights change."""
from __future__ import annotations

import numpy as np
import pytest

from deepfake_zoo import zoo
from deepfake_zoo.datasets.manifest import load_manifest
from deepfake_zoo.search import features as features_module
from deepfake_zoo.search.features import FeatureCache
from deepfake_zoo.search.study import run_model_search

pytestmark = pytest.mark.slow


def test_second_study_makes_no_backbone_pass(config_for, monkeypatch):
    first = run_model_search("tiny_search_frozen", config_for(trials=2, epochs=2), log=lambda _: None)
    assert first["feature_cache"]["misses"] > 0

    def no_backbone(*args, **kwargs):
        raise AssertionError("the warm run pushed images through the backbone")

    monkeypatch.setattr(features_module, "make_dataset", no_backbone)
    second = run_model_search("tiny_search_frozen", config_for(trials=2, epochs=2, study="again"),
                              log=lambda _: None)
    assert second["feature_cache"]["misses"] == 0 and second["feature_cache"]["hits"] > 0


def test_size_and_weights_are_part_of_the_key(demo_manifest, tmp_path):
    entry = zoo.get_model("tiny_search_frozen")
    frame = load_manifest(demo_manifest)
    val = frame[frame["split"] == "val"].reset_index(drop=True)

    def cache(size, seed):
        import keras
        keras.utils.set_random_seed(seed)  # seeded random init stands in for a weight file
        return FeatureCache(tmp_path, entry.name, size, entry.build_feature_extractor(size, "none"))

    base = cache(32, 0)
    x = base.features(val, "val")
    same = cache(32, 0)
    assert np.array_equal(same.features(val, "val"), x) and same.misses == 0
    other_size = cache(48, 0)
    other_size.features(val, "val")
    other_weights = cache(32, 1)
    other_weights.features(val, "val")
    assert other_size.misses == 1 and other_weights.misses == 1


def test_half_written_cache_is_never_read(demo_manifest, tmp_path):
    entry = zoo.get_model("tiny_search_frozen")
    frame = load_manifest(demo_manifest)
    val = frame[frame["split"] == "val"].reset_index(drop=True)
    cache = FeatureCache(tmp_path, entry.name, 32, entry.build_feature_extractor(32, "none"))
    folder = tmp_path / entry.name / cache.key(val, "none", 0)
    # A writer killed mid-way leaves only a temporary sibling; the final folder name is never half-filled.
    (tmp_path / entry.name / ".tmp-killed").mkdir(parents=True)
    (tmp_path / entry.name / ".tmp-killed" / "features.npy").write_bytes(b"\x93NUMPY garbage")
    x = cache.features(val, "val")
    assert cache.misses == 1 and (folder / "features.npy").is_file() and x.shape[0] == len(val)
