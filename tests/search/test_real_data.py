"""A short MobileNetV2-frozen search on the real shared datasets (ImageNet weights, offline) learns the task."""
from __future__ import annotations

import json

import pytest

from deepfake_zoo.search.config import make_config
from deepfake_zoo.search.study import run_model_search

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def test_short_frozen_mobilenet_search_beats_chance_clearly(real_manifest, keras_weights_available, tmp_path):
    manifest, _ = real_manifest
    # 3,000 images a split (seeded, stratified by source and label) keeps the backbone passes to a few minutes.
    config = make_config({"manifest": str(manifest), "runs": str(tmp_path / "runs"),
                          "cache_dir": str(tmp_path / "features"), "trials": 5, "epochs": 8, "image_size": 128,
                          "limit": 3000, "augment_views": 1, "seed": 0})
    metrics = run_model_search("mobilenet_v2_frozen", config, log=print)
    assert metrics["weights"] == "imagenet"
    assert metrics["validation"]["accuracy"] > 0.65, metrics["validation"]
    assert metrics["roc_auc"] > 0.65  # the test split, scored once, agrees
    assert set(metrics["per_source"]) == {"deepfake-faces", "real-and-fake-face"}
    saved = json.loads((tmp_path / "runs" / "mobilenet_v2_frozen" / "metrics.json").read_text())
    assert saved["train_sources"] == ["deepfake-faces", "real-and-fake-face"] and not saved["data_is_synthetic"]
    # A real backbone gets its robustness curves without being asked; every run gets its cost.
    robustness = json.loads((tmp_path / "runs" / "mobilenet_v2_frozen" / "robustness.json").read_text())
    assert set(robustness["perturbations"]) == {"jpeg", "blur", "downscale", "noise"}
    assert (tmp_path / "runs" / "mobilenet_v2_frozen" / "cost.json").is_file()
