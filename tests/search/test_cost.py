"""Cost: latency, throughput, parameters and file size come back with their keys and positive values (no timings)."""
from __future__ import annotations

import json

import keras
import pytest

from deepfake_zoo.search.cost import measure_cost, write_cost

KEYS = {"latency_ms_per_image", "latency_ms_p90", "throughput_images_per_s", "params_total", "model_file_bytes",
        "image_size", "batch_size", "repeats", "warmup", "batches", "device", "cpu_count", "machine", "tensorflow"}


def tiny_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, activation="relu"),
                             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")])


def test_cost_has_every_key_and_positive_numbers(tmp_path):
    run_dir = tmp_path / "runs" / "tiny"
    run_dir.mkdir(parents=True)
    model = tiny_model()
    model.save(run_dir / "model.keras")

    cost = write_cost(run_dir, model, 16, repeats=5, warmup=1, batch_size=4, batches=2)

    assert json.loads((run_dir / "cost.json").read_text()) == cost
    assert KEYS | {"model", "created"} == set(cost)
    assert cost["model"] == "tiny" and cost["device"] == "cpu"
    assert cost["latency_ms_per_image"] > 0 and cost["latency_ms_p90"] >= cost["latency_ms_per_image"]
    assert cost["throughput_images_per_s"] > 0
    # 3x3x3x4 + 4 conv weights, 4 + 1 dense weights.
    assert cost["params_total"] == 3 * 3 * 3 * 4 + 4 + 4 + 1
    assert cost["model_file_bytes"] == (run_dir / "model.keras").stat().st_size > 0
    assert (cost["image_size"], cost["batch_size"], cost["repeats"], cost["batches"]) == (16, 4, 5, 2)


def test_defaults_are_batch_1_median_of_50_and_batch_32_and_bad_settings_are_refused():
    cost = measure_cost(tiny_model(), 16)
    assert (cost["repeats"], cost["batch_size"], cost["model_file_bytes"]) == (50, 32, None)
    with pytest.raises(ValueError, match="at least 1"):
        measure_cost(tiny_model(), 16, repeats=0)
