"""--compare-sizes: one study, cache and run folder per input size, a table of them, the size chosen on validation."""
from __future__ import annotations

import json
import re

import pytest

from deepfake_zoo.search.config import ConfigError, make_config
from deepfake_zoo.search.launch import launch, sizes_table
from deepfake_zoo.search.study import run_name


def test_sizes_are_read_and_checked_up_front():
    assert make_config({"compare_sizes": "224, 128"}).compare_sizes == [128, 224]
    assert make_config({"compare_sizes": [224, 128, 224]}).compare_sizes == [128, 224]
    for bad in ("128,128", "8,128", "128,big"):
        with pytest.raises(ConfigError, match=f"compare_sizes: '{bad}' is not allowed; expected two or more whole "
                                              "numbers of pixels, at least 16 each"):
            make_config({"compare_sizes": bad})
    with pytest.raises(ConfigError, match="compare_sizes and image_size both set the input size"):
        make_config({"compare_sizes": "128,224", "image_size": 128})
    with pytest.raises(ConfigError, match="once per --image-size"):
        make_config({"compare_sizes": "128,224", "leave_one_source_out": True})
    for bad in ("../elsewhere", "-224px", "a/b"):
        with pytest.raises(ConfigError, match=f"run_suffix: '{re.escape(bad)}' is not allowed; expected a letter"):
            make_config({"run_suffix": bad})


def test_a_suffix_follows_the_holdout_part_of_a_run_name():
    assert run_name("cnn", None, "224px") == "cnn-224px"
    assert run_name("cnn", ["b", "a"], "224px") == "cnn-holdout-a+b-224px"


def test_the_suffix_is_a_word_on_the_command_line(tmp_path):
    import argparse

    from deepfake_zoo.search.cli import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args(["--run-suffix", "128px-tta"]).run_suffix == "128px-tta"


def test_each_size_gets_its_own_study_and_run_folder(config_for, capsys):
    config = config_for(model="tiny_search_frozen", compare_sizes="32,48", trials=2, epochs=1)
    lines: list[str] = []
    results = launch(config, log=lines.append)
    assert set(results) == {"tiny_search_frozen-32px", "tiny_search_frozen-48px"}
    runs = config.runs_dir
    for size in (32, 48):
        metrics = json.loads((runs / f"tiny_search_frozen-{size}px" / "metrics.json").read_text())
        assert metrics["image_size"] == size and metrics["study_name"] == f"tiny_search_frozen-{size}px"
        assert (runs / f"tiny_search_frozen-{size}px" / "model.keras").is_file()
        assert results[f"tiny_search_frozen-{size}px"]["roc_auc"] == metrics["roc_auc"]
    # Neither size replaced or wrote the plain run folder.
    assert not (runs / "tiny_search_frozen").exists()
    table = lines[-1]
    chosen = max(results, key=lambda name: results[name]["best_value"])
    assert [line.split()[0] for line in table.splitlines() if "chosen on validation" in line] == [chosen]


def test_the_table_marks_validation_not_test():
    results = {"m-128px": {"model": "m", "image_size": 128, "best_value": 0.80, "roc_auc": 0.95, "accuracy": 0.9,
                           "wall_time_s": 60.0},
               "m-224px": {"model": "m", "image_size": 224, "best_value": 0.85, "roc_auc": 0.70, "accuracy": 0.6,
                           "wall_time_s": 180.0}}
    rows = {line.split()[0]: line for line in sizes_table(results).splitlines() if line.startswith("m-")}
    assert "chosen on validation" in rows["m-224px"] and "chosen" not in rows["m-128px"]
    assert rows["m-224px"].split()[1:6] == ["224", "0.8500", "0.7000", "0.6000", "3.0"]
