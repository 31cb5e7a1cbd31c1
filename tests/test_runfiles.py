"""The shared reader of runs/: safe JSON, metric lookup, the ranking rules and the EER point."""
from __future__ import annotations

import ast
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from deepfake_zoo import runfiles
from deepfake_zoo.runfiles import (MAX_JSON_DEPTH, RunFileError, equal_error_point, is_number, lookup_number,
                                   lower_is_better, rank_key, read_json, read_metrics, readable_text)


@pytest.mark.parametrize("key, lower", [
    ("eer", True), ("validation.eer", True), ("per_source.faces.eer", True), ("val_loss", True),
    ("wall_time_s", True), ("duration_s", True), ("params_total", True), ("params_trainable", True),
    ("inference_images_per_s", False), ("accuracy", False), ("roc_auc", False), ("validation.roc_auc", False),
    ("average_precision", False), ("f1", False), ("trials.complete", False), ("image_size", False),
])
def test_which_metrics_rank_smallest_first(key, lower):
    assert lower_is_better(key) is lower


def test_numbers_are_finite_ints_and_floats_only():
    assert [is_number(v) for v in (1, 0.5, -3, 10 ** 300)] == [True] * 4
    assert [is_number(v) for v in (True, None, "1", float("nan"), float("inf"), 10 ** 400, [1])] == [False] * 7


def test_lookup_follows_dots_and_prefers_dotted_names():
    metrics = {"roc_auc": 0.9, "validation": {"roc_auc": 0.8}, "per_source": {"faces.v2": {"accuracy": 0.7},
               "faces": {"v2": {"accuracy": 0.1}}}, "bad": {"x": "0.5", "y": float("nan"), "z": True}}
    assert lookup_number(metrics, "roc_auc") == 0.9
    assert lookup_number(metrics, "validation.roc_auc") == 0.8
    assert lookup_number(metrics, "per_source.faces.v2.accuracy") == 0.7
    assert [lookup_number(metrics, k) for k in ("bad.x", "bad.y", "bad.z", "nope", "roc_auc.x")] == [None] * 5


def test_lookup_of_a_very_long_key_does_not_recurse():
    node = value = {}
    for _ in range(3000):
        node["k"] = {}
        node = node["k"]
    node["v"] = 1
    assert lookup_number(value, ".".join(["k"] * 3000 + ["v"])) == 1.0


def test_rank_key_best_first_missing_last_ties_by_folder():
    runs = {"b": {"eer": 0.2, "fps": 10}, "a": {"eer": 0.2, "fps": 30}, "c": {"fps": 20}, "d": {"eer": 0.1}}
    order = lambda key: sorted(runs, key=lambda name: rank_key(runs[name], key, name))  # noqa: E731
    assert order("eer") == ["d", "a", "b", "c"]
    assert order("inference_images_per_s") == ["a", "b", "c", "d"]  # nobody has it: all tie, by folder
    assert order("fps") == ["a", "c", "b", "d"]


@pytest.mark.parametrize("scores", [
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.35, 0.55, 0.65, 0.8, 0.9],
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.45, 0.65, 0.75, 0.8, 0.9],
    [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01],
])
def test_equal_error_point_lies_on_the_curve_where_fpr_meets_fnr(scores):
    from sklearn.metrics import roc_curve

    labels = np.array([0] * 7 + [1] * 5)
    fpr, tpr, _ = roc_curve(labels, np.asarray(scores))
    point = equal_error_point(fpr, tpr)
    on_vertex = any(point.fpr == x and point.tpr == y for x, y in zip(fpr, tpr))
    crossing = point.rate == pytest.approx(point.fpr) and point.tpr == pytest.approx(1 - point.rate)
    assert on_vertex or crossing
    # Never further than one ROC step from where FPR and FNR are closest.
    nearest = int(np.argmin(np.abs(fpr - (1 - tpr))))
    assert abs(point.rate - (fpr[nearest] + 1 - tpr[nearest]) / 2) <= 1 / 5


def test_search_scores_eer_with_the_shared_rule():
    from deepfake_zoo.search.metrics import equal_error_rate

    labels = np.array([0] * 7 + [1] * 5)
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.35, 0.55, 0.65, 0.8, 0.9])
    assert equal_error_rate(labels, scores) == pytest.approx(2 / 7)  # interpolated, not the nearest vertex (0.243)


@pytest.mark.parametrize("content, words", [
    (b"[" * 1500 + b"]" * 1500, "nested too deeply to parse"),
    (json.dumps(json.loads("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))).encode(), "nests deeper"),
    (b'{"a": "\xff"}', "not readable JSON ('utf-8' codec can't decode"),
    (b'{"a": "\\ud800"}', "not valid Unicode"),
    (b'{"a": 1' + b"0" * 5000 + b"}", "not readable JSON (Exceeds the limit"),
    (b"{", "not readable JSON (Expecting property name"),
])
def test_read_json_turns_any_content_into_one_reason(tmp_path, content, words):
    path = tmp_path / "metrics.json"
    path.write_bytes(content)
    with pytest.raises(RunFileError, match=words.replace("(", r"\(")):
        read_json(path)


def test_read_json_accepts_the_depth_a_search_writes(tmp_path):
    path = tmp_path / "x.json"
    data = json.loads("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    path.write_text(json.dumps(data))
    assert read_json(path) == data


def test_read_json_refuses_oversized_and_special_files(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as handle:
        handle.truncate(100)
    with pytest.raises(RunFileError, match="big.json is 100 bytes, more than the 50 a run file may hold"):
        read_json(big, max_bytes=50)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(RunFileError, match="fifo.json is not a regular file"):
        read_json(fifo)


def test_read_metrics_normalises_counts_and_names_the_bad_field(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"accuracy": 0.9, "confusion_matrix": [[3.0, 1], [0, 4]]}))
    assert read_metrics(tmp_path)["confusion_matrix"] == [[3, 1], [0, 4]]
    (tmp_path / "metrics.json").write_text('{"accuracy": 0.9, "eer": -Infinity}')
    with pytest.raises(RunFileError, match="^metrics.json field eer is -inf, not a number; rerun the search"):
        read_metrics(tmp_path)
    with pytest.raises(RunFileError, match="^no metrics.json"):
        read_metrics(tmp_path / "nowhere")


def test_the_ground_floor_imports_only_the_standard_library_and_numpy():
    tree = ast.parse(Path(runfiles.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= set(sys.stdlib_module_names) | {"numpy"}, imported


def test_readable_text_can_always_be_written_as_utf8():
    for text in ("plain", os.fsdecode(b"bad\xffname"), "lone \ud800 surrogate"):
        shown = readable_text(text)
        assert shown.encode("utf-8").decode("utf-8") == shown
    assert readable_text(os.fsdecode(b"bad\xffname")) == "bad\ufffdname"


def test_the_default_ranking_is_validation_and_falls_back_to_test_only_without_any():
    from deepfake_zoo.runfiles import DEFAULT_RANK_BY, resolve_rank_by

    with_val = [{"roc_auc": 0.9}, {"roc_auc": 0.8, "validation": {"roc_auc": 0.7}}]
    without = [{"roc_auc": 0.9}, {"roc_auc": 0.8}]
    assert DEFAULT_RANK_BY == "validation.roc_auc"
    assert resolve_rank_by(None, with_val) == "validation.roc_auc"
    assert resolve_rank_by(None, without) == "roc_auc"
    assert resolve_rank_by(None, []) == "validation.roc_auc"  # no runs: nothing to fall back for
    # A metric asked for by name is kept even when no run has it (the caller then says which ones exist).
    assert resolve_rank_by("eer", without) == "eer"
    assert resolve_rank_by("validation.roc_auc", without) == "validation.roc_auc"
