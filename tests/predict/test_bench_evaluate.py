"""The evaluate benchmark's plumbing on a tiny run (its numbers are measured in `make bench`, never asserted here)."""
from __future__ import annotations

import pytest
from predict_fixtures import write_tiny_run

from deepfake_zoo.datasets.manifest import build_manifest
from deepfake_zoo.predict.bench_evaluate import bench_evaluate_throughput


@pytest.mark.slow
def test_evaluate_benchmark_scores_every_sampled_image_and_reports_both_rates(tmp_path):
    manifest = tmp_path / "build" / "splits.csv"
    build_manifest(None, manifest, seed=0)
    write_tiny_run(tmp_path / "runs", "tiny", image_size=32)
    result = bench_evaluate_throughput(manifest, tmp_path / "runs", model="tiny", n=40)
    assert result["images"] == 40 and result["model"] == "tiny"
    assert result["evaluate_images_per_s"] > 0 and result["model_images_per_s"] > 0
    assert result["ratio"] == pytest.approx(result["evaluate_images_per_s"] / result["model_images_per_s"])
    assert result["met"] == (result["ratio"] >= result["target_ratio"])
    assert (tmp_path / "runs" / "tiny" / "external" / "bench-evaluate" / "metrics.json").is_file()
