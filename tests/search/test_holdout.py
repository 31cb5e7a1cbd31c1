"""Cross-source protocol: held-out sources never reach train or val, get their own run folder and a holdout block."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import optuna
import pandas as pd
import pytest

from deepfake_zoo.datasets.audit import LeakageError, audit_holdout
from deepfake_zoo.datasets.manifest import load_manifest
from deepfake_zoo.search.config import ConfigError, make_config
from deepfake_zoo.search.launch import launch
from deepfake_zoo.search.metrics import binary_metrics
from deepfake_zoo.search.study import holdout_rows, run_name, select_rows

SOURCES = ("alpha", "beta")


@pytest.fixture(scope="module")
def two_sources(demo_manifest, tmp_path_factory) -> Path:
    """The demo manifest in a copy whose rows alternate between two sources within every split and label, so each
    source has both labels everywhere (a group keeps one source: the demo's groups are single images)."""
    frame = pd.read_csv(demo_manifest)
    order = frame.groupby(["split", "label"]).cumcount()
    frame["source"] = [SOURCES[i % 2] for i in order]
    path = tmp_path_factory.mktemp("two_sources") / "splits.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def two_config(tmp_path, two_sources):
    def make(**values):
        base = {"manifest": str(two_sources), "runs": str(tmp_path / "runs"), "cache_dir": str(tmp_path / "features"),
                "model": "tiny_search_frozen", "trials": 1, "epochs": 1, "seed": 0, "robustness_limit": 8}
        return make_config({**base, **values})
    return make


def test_new_keys_are_validated_up_front():
    assert make_config({"holdout_sources": "b, a"}).holdout_sources == ["b", "a"]
    assert make_config({}).robustness is None and make_config({}).robustness_limit == 500
    # `--no-robustness` is a real False over a file that asks for it; a store_true flag left off is not.
    assert make_config({"robustness": False}).robustness is False
    assert make_config({"xla": False}).xla is False
    with pytest.raises(ConfigError, match="pass one"):
        make_config({"holdout_sources": "a", "leave_one_source_out": True})
    with pytest.raises(ConfigError, match=r"\['a'\] are both in train_sources and holdout_sources"):
        make_config({"holdout_sources": "a", "train_sources": "a,b"})
    with pytest.raises(ConfigError, match="drop train_sources"):
        make_config({"leave_one_source_out": True, "train_sources": "a"})
    with pytest.raises(ConfigError, match="robustness_limit: 1 is not allowed"):
        make_config({"robustness_limit": 1})
    with pytest.raises(ConfigError, match="leave_one_source_out: 'yes' is not allowed; expected true or false"):
        make_config({"leave_one_source_out": "yes"})


def test_unknown_or_every_source_held_out_is_an_error_naming_the_sources(two_config, two_sources):
    frame = load_manifest(two_sources)
    with pytest.raises(ValueError, match=r"holdout_sources \['gamma'\] not in the manifest; sources present: "
                                         r"\['alpha', 'beta'\]"):
        select_rows(frame, two_config(holdout_sources="gamma"))
    with pytest.raises(ValueError, match="hold out every source"):
        select_rows(frame, two_config(holdout_sources="beta,alpha"))
    # launch refuses before any study is created under the misspelt name.
    with pytest.raises(ValueError, match=r"sources present: \['alpha', 'beta'\]"):
        launch(two_config(holdout_sources="gamma"), log=lambda _: None)
    assert not any("gamma" in name for name in optuna.get_all_study_names(two_config().storage_url()))


def test_held_out_rows_never_reach_train_or_val_and_the_audit_catches_a_leak(two_config, two_sources):
    frame = load_manifest(two_sources)
    config = two_config(holdout_sources="beta")
    selected = select_rows(frame, config)
    held = holdout_rows(frame, config)

    assert set(selected["source"]) == {"alpha"}
    assert len(held) == int(frame["source"].eq("beta").sum()) and set(held["split"]) == {"train", "val", "test"}
    assert not set(held["path"]) & set(selected["path"])
    audit_holdout(selected[selected["split"] != "test"], held)
    leaked = pd.concat([selected, held[held["split"] == "train"].head(1)])
    with pytest.raises(LeakageError, match="held-out file"):
        audit_holdout(leaked[leaked["split"] != "test"], held)


def test_a_copy_of_a_held_out_image_under_another_source_is_dropped(two_config, two_sources):
    frame = load_manifest(two_sources)
    copy = frame[frame["source"] == "beta"].head(1).assign(source="alpha", path="/elsewhere/copy.png")
    selected = select_rows(pd.concat([frame, copy], ignore_index=True), two_config(holdout_sources="beta"))
    assert "/elsewhere/copy.png" not in set(selected["path"])


def test_self_blended_fakes_of_a_held_out_source_stay_out_of_training(two_config, two_sources):
    frame = load_manifest(two_sources)
    blend = frame[(frame["source"] == "beta") & (frame["split"] == "train")].head(1)
    blend = blend.assign(source="beta+sbi", path="/sbi/blend.png", sha256="b" * 64, label=1)
    selected = select_rows(pd.concat([frame, blend], ignore_index=True), two_config(holdout_sources="beta"))
    assert "/sbi/blend.png" not in set(selected["path"]) and set(selected["source"]) == {"alpha"}


def test_blends_follow_their_source_into_training_and_out_of_the_rotation(two_config, two_sources):
    from deepfake_zoo.search.launch import loso_sources

    frame = load_manifest(two_sources)
    blend = frame[(frame["source"] == "alpha") & (frame["split"] == "train")].head(1)
    blend = blend.assign(source="alpha+sbi", path="/sbi/alpha.png", sha256="c" * 64, label=1)
    with_blend = pd.concat([frame, blend], ignore_index=True)
    assert loso_sources(with_blend) == ["alpha", "beta"]
    kept = select_rows(with_blend, two_config(train_sources="alpha"))
    assert "/sbi/alpha.png" in set(kept["path"])
    with pytest.raises(ValueError, match="not in the manifest"):
        select_rows(with_blend, two_config(holdout_sources="alpha+sbi"))


def test_rows_grouped_with_a_held_out_file_stay_out_too(two_config, two_sources):
    frame = load_manifest(two_sources)
    held_group = frame[frame["source"] == "beta"]["group"].iloc[0]
    linked = frame[frame["source"] == "alpha"].head(1).assign(group=held_group, path="/linked.png", sha256="d" * 64)
    selected = select_rows(pd.concat([frame, linked], ignore_index=True), two_config(holdout_sources="beta"))
    assert "/linked.png" not in set(selected["path"])


def test_run_folder_name_is_sorted_and_folder_safe():
    assert run_name("cnn", None) == "cnn"
    assert run_name("cnn", ["b", "a"]) == "cnn-holdout-a+b"
    assert run_name("cnn", ["x/y z"]) == "cnn-holdout-x_y_z"


def _digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.slow
def test_holdout_run_writes_its_own_folder_and_scores_every_held_out_row(two_config, two_sources):
    in_domain = launch(two_config(), log=lambda _: None)["tiny_search_frozen"]
    runs = Path(two_config().runs)
    before = _digest(runs / "tiny_search_frozen")
    assert (runs / "tiny_search_frozen" / "cost.json").is_file()
    assert in_domain["holdout_sources"] == [] and "holdout" not in in_domain

    lines: list[str] = []
    metrics = launch(two_config(holdout_sources="beta", robustness=True), log=lines.append)["tiny_search_frozen"]


    run = runs / "tiny_search_frozen-holdout-beta"
    assert _digest(runs / "tiny_search_frozen") == before  # the in-domain run is untouched
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["holdout_sources"] == ["beta"] and saved["train_sources"] == ["alpha"]
    assert set(in_domain) - {"holdout"} <= set(saved)  # every existing key kept
    frame = load_manifest(two_sources)
    assert saved["n_test"] == int(((frame["split"] == "test") & (frame["source"] == "alpha")).sum())
    block = saved["holdout"]["beta"]
    assert set(binary_metrics([0, 1], [0.2, 0.8], 0.5)) <= set(block)
    assert block["n"] == int(frame["source"].eq("beta").sum())
    assert block["threshold"] == saved["calibration"]["threshold"]
    predictions = pd.read_csv(run / "holdout_predictions.csv")
    assert len(predictions) == block["n"] and set(predictions["source"]) == {"beta"}
    assert block["accuracy"] == pytest.approx(float((predictions["pred"] == predictions["label"]).mean()))
    assert (run / "cost.json").is_file()
    robustness = json.loads((run / "robustness.json").read_text())
    assert robustness["n"] == min(8, saved["n_test"]) and robustness["sources"] == ["alpha"]
    assert metrics["holdout"]["beta"]["n"] == block["n"]


@pytest.mark.slow
def test_leave_one_source_out_runs_each_source_and_prints_the_table(two_config):
    lines: list[str] = []
    results = launch(two_config(leave_one_source_out=True), log=lines.append)

    assert sorted(results) == ["tiny_search_frozen-holdout-alpha", "tiny_search_frozen-holdout-beta"]
    runs = Path(two_config().runs)
    for source in SOURCES:
        saved = json.loads((runs / f"tiny_search_frozen-holdout-{source}" / "metrics.json").read_text())
        assert saved["holdout_sources"] == [source] and saved["study_name"] == f"tiny_search_frozen-holdout-{source}"
    table = lines[-1]
    assert "held-out roc_auc" in table
    rows = [line for line in table.splitlines() if line.startswith("tiny_search_frozen ")]
    assert [row.split()[1] for row in rows] == ["alpha", "beta", "mean"]


def test_robustness_flag_is_on_off_or_left_to_the_backbone(tmp_path):
    import argparse

    from deepfake_zoo.search import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert parser.parse_args([]).robustness is None
    assert parser.parse_args(["--robustness"]).robustness is True
    assert parser.parse_args(["--no-robustness"]).robustness is False
    yaml_on = tmp_path / "on.yaml"
    yaml_on.write_text("robustness: true\n")
    assert make_config({"robustness": False}, yaml_on).robustness is False
    assert make_config({"robustness": None}, yaml_on).robustness is True
