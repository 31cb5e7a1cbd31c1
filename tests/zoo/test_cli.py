"""`deepfake-zoo list`: one row per model with family, size, parameter counts, training mode and weights origin."""
from __future__ import annotations

import json

import pytest

from deepfake_zoo import zoo
from deepfake_zoo.cli import main


def test_list_prints_counts_that_match_a_real_build(capsys):
    assert main(["list", "--model", "cnn,mobilenet_v2_frozen"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:6] == ["model", "family", "size", "params", "trainable", "backbone"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == {"cnn", "mobilenet_v2_frozen"}
    cnn = zoo.get_model("cnn").build(weights="none")
    assert rows["cnn"][1:6] == ["cnn", "128", f"{cnn.count_params():,}",
                                f"{sum(int(v.numpy().size) for v in cnn.trainable_variables):,}", "scratch"]
    assert " ".join(rows["cnn"][6:]) == "none (random init)"
    mobilenet = rows["mobilenet_v2_frozen"]
    assert mobilenet[1:3] == ["mobilenet", "224"] and mobilenet[5] == "frozen" and mobilenet[6] == "imagenet"
    total, trainable = zoo.get_model("mobilenet_v2_frozen").count_params()
    assert mobilenet[3:5] == [f"{total:,}", f"{trainable:,}"]
    # Only the head trains: BatchNorm's scale and offset over the multi-level features (the expansions of blocks 3
    # to 14 and the last 1280 channels, each pooled to its mean and spread), Dense(128) on them, and the sigmoid unit.
    width = 2 * (144 + 3 * 192 + 4 * 384 + 3 * 576 + 960 + 1280)
    assert width == 12448
    assert trainable == 2 * width + width * 128 + 128 + 128 + 1


def test_list_json_by_family_without_counting(capsys):
    assert main(["list", "inception", "--no-params", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [row["model"] for row in rows] == ["inception_v3_finetune", "inception_v3_frozen"]
    assert [row["backbone"] for row in rows] == ["finetune", "frozen"]
    assert all(row["input_size"] == 299 and row["params_total"] is None for row in rows)
    assert all(row["weights"].startswith("imagenet") for row in rows)


def test_list_unknown_pattern_suggests_names(capsys):
    assert main(["list", "mobilnet"]) == 2
    assert "did you mean mobilenet" in capsys.readouterr().err


def test_help_describes_the_listing(capsys):
    with pytest.raises(SystemExit):
        main(["list", "--help"])
    assert "parameters (total and trainable)" in " ".join(capsys.readouterr().out.split())
