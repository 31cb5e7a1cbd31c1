"""Manifest builds from both layouts: columns, counts, group splits, duplicates, caps and determinism."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from deepfake_zoo.datasets.audit import audit_leakage
from deepfake_zoo.datasets.layouts import DataLayoutError
from deepfake_zoo.datasets.manifest import COLUMNS, build_manifest, load_manifest, manifest_sha256
from imagefiles import make_folder_dataset, make_metadata_dataset, write_image


def test_both_layouts_columns_counts_and_given_split(two_sources, tmp_path):
    report = build_manifest(two_sources, tmp_path / "build" / "splits.csv", seed=0)
    df = load_manifest(tmp_path / "build" / "splits.csv")
    assert list(df.columns) == COLUMNS
    assert report.sources == ["faceset", "folderset"]
    assert report.layouts == {"faceset": "metadata", "folderset": "folder"}
    assert not report.data_is_synthetic
    assert len(df) == report.rows == 25 + 59

    folder = df[df.source == "folderset"]
    # The folder set keeps its own split; labels come from the Real/Fake folder names.
    expected = {("train", 0): 8, ("train", 1): 7, ("val", 0): 3, ("val", 1): 2, ("test", 0): 2, ("test", 1): 3}
    assert folder.groupby(["split", "label"]).size().to_dict() == expected
    assert report.counts["folderset"]["val"] == {"real": 3, "fake": 2}
    for row in folder.itertuples():
        assert ("/Fake/" in row.path) == (row.label == 1)
        assert {"train": "/Train/", "val": "/Validation/", "test": "/Test/"}[row.split] in row.path

    faces = df[df.source == "faceset"]
    assert (faces.label == 0).sum() == 20 and (faces.label == 1).sum() == 39
    assert set(faces.split) == {"train", "val", "test"}
    assert (df.width == 32).all() and (df.height == 32).all()
    assert df.sha256.str.fullmatch(r"[0-9a-f]{64}").all()
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in df.path)
    assert (tmp_path / "build" / "report.json").is_file()
    saved = json.loads((tmp_path / "build" / "report.json").read_text())
    assert saved["counts"] == report.counts and saved["manifest_sha256"] == manifest_sha256(tmp_path / "build" /
                                                                                            "splits.csv")
    assert "folderset" in (tmp_path / "build" / "report.txt").read_text()


def test_fakes_stay_with_their_original_and_no_group_crosses_splits(tmp_path):
    data = make_metadata_dataset(tmp_path / "dfdc", n_real=40, fakes_per_real=[1, 3, 2, 4])
    build_manifest(data, tmp_path / "m.csv", seed=3)
    df = load_manifest(tmp_path / "m.csv")
    assert df.groupby("group").split.nunique().max() == 1
    split_of = {Path(p).stem: s for p, s in zip(df.path, df.split)}
    for stem, split in split_of.items():
        if stem.startswith("f"):
            assert split == split_of["r" + stem[1:4]], stem
    # 40 groups of 2..5 files split 70/15/15 by rows: each share lands within one group's size of its target.
    shares = df.split.value_counts() / len(df)
    assert abs(shares["test"] - 0.15) < 0.06 and abs(shares["val"] - 0.15) < 0.06
    audit_leakage(df)


def test_same_seed_same_bytes_other_seed_other_split(two_sources, tmp_path):
    first = build_manifest(two_sources, tmp_path / "a" / "splits.csv", seed=5)
    bytes_a = (tmp_path / "a" / "splits.csv").read_bytes()
    build_manifest(two_sources, tmp_path / "a" / "splits.csv", seed=5)
    assert (tmp_path / "a" / "splits.csv").read_bytes() == bytes_a
    assert manifest_sha256(tmp_path / "a" / "splits.csv") == first.manifest_sha256
    build_manifest(two_sources, tmp_path / "a" / "splits.csv", seed=6)
    other = load_manifest(tmp_path / "a" / "splits.csv")
    assert (tmp_path / "a" / "splits.csv").read_bytes() != bytes_a
    # Only the unsplit source is re-drawn; the given split never moves.
    same = pd.read_csv(pd.io.common.StringIO(bytes_a.decode()))
    merged = same.merge(other, on="path", suffixes=("_a", "_b"))
    assert (merged[merged.source_a == "folderset"].split_a == merged[merged.source_a == "folderset"].split_b).all()
    assert (merged[merged.source_a == "faceset"].split_a != merged[merged.source_a == "faceset"].split_b).any()


def test_plain_real_fake_folder_is_split_70_15_15_by_file(tmp_path):
    data = make_folder_dataset(tmp_path / "plain", {(None, "real"): 40, (None, "FAKE"): 40})
    report = build_manifest(data, tmp_path / "m.csv", seed=0, cap_per_class=0)
    assert report.sources == ["plain"]
    for label in ("real", "fake"):
        assert [report.counts["plain"][s][label] for s in ("train", "val", "test")] == [28, 6, 6]


def test_data_folder_that_is_itself_one_dataset(tmp_path):
    data = make_folder_dataset(tmp_path / "just-one" / "dataset", {("training", "Real"): 3, ("training", "Fake"): 3,
                                                                  ("valid", "Real"): 1, ("valid", "Fake"): 1,
                                                                  ("testing", "Real"): 1, ("testing", "Fake"): 1})
    report = build_manifest(data.parent, tmp_path / "m.csv")
    assert report.sources == ["just-one"]
    assert report.counts["just-one"]["val"] == {"real": 1, "fake": 1}


def test_cap_is_random_per_class_and_source_not_first_n(tmp_path):
    data = make_folder_dataset(tmp_path / "big", {(None, "Real"): 12, (None, "Fake"): 9})
    picks = []
    for seed in (0, 1):
        report = build_manifest(data, tmp_path / f"m{seed}.csv", seed=seed, cap_per_class=5)
        df = load_manifest(tmp_path / f"m{seed}.csv")
        assert df.groupby("label").size().to_dict() == {0: 5, 1: 5}
        assert report.capped == {"big": {"real": 7, "fake": 4}}
        picks.append(set(df.path))
    first_n = {str(p) for label in ("Real", "Fake") for p in sorted((data / label).iterdir())[:5]}
    assert picks[0] != picks[1]
    assert picks[0] != first_n


def test_identical_files_join_one_group_and_are_reported(tmp_path):
    data = make_folder_dataset(tmp_path / "dups", {(None, "Real"): 10, (None, "Fake"): 10})
    for i in range(3):
        shutil.copy(data / "Real" / "img_000.jpg", data / "Real" / f"copy_{i}.jpg")
    report = build_manifest(data, tmp_path / "m.csv", seed=0)
    df = load_manifest(tmp_path / "m.csv")
    copies = df[df.sha256 == df[df.path.str.endswith("Real/img_000.jpg")].sha256.iloc[0]]
    assert len(copies) == 4 and copies.group.nunique() == 1 and copies.split.nunique() == 1
    assert report.duplicate_sets == 1 and report.duplicate_files == 4
    assert "4 identical files" in report.duplicates[0]


def test_identical_files_across_given_splits_keep_one_copy(tmp_path):
    data = make_folder_dataset(tmp_path / "presplit", {("Train", "Real"): 4, ("Train", "Fake"): 4,
                                                       ("Test", "Real"): 2, ("Test", "Fake"): 2})
    # The same face filed under Train and Test: the Test copy stays, the Train copy is dropped and counted.
    shutil.copy(data / "Test" / "Real" / "img_000.jpg", data / "Train" / "Real" / "leaked.jpg")
    report = build_manifest(data, tmp_path / "m.csv")
    df = load_manifest(tmp_path / "m.csv")
    assert not df.path.str.endswith("leaked.jpg").any()
    assert report.skip_counts() == {"duplicate_across_splits": 1}
    assert report.counts["presplit"]["train"] == {"real": 4, "fake": 4}
    assert report.counts["presplit"]["test"] == {"real": 2, "fake": 2}


def test_identical_files_across_sources_share_the_given_split(tmp_path):
    data = tmp_path / "data"
    given = make_folder_dataset(data / "given", {("Train", "Real"): 3, ("Train", "Fake"): 3,
                                                 ("Validation", "Real"): 3, ("Validation", "Fake"): 3}, seed=1)
    loose = make_folder_dataset(data / "loose", {(None, "Real"): 20, (None, "Fake"): 20}, seed=2)
    for i in range(3):
        shutil.copy(given / "Validation" / "Fake" / f"img_00{i}.jpg", loose / "Fake" / f"same_{i}.jpg")
    build_manifest(data, tmp_path / "m.csv", seed=0)
    df = load_manifest(tmp_path / "m.csv")
    same = df[df.path.str.contains("same_")]
    assert len(same) == 3 and set(same.split) == {"val"}
    audit_leakage(df)


def test_identical_files_with_conflicting_labels_are_dropped(tmp_path):
    data = make_folder_dataset(tmp_path / "conf", {(None, "Real"): 5, (None, "Fake"): 5})
    shutil.copy(data / "Real" / "img_000.jpg", data / "Fake" / "relabelled.jpg")
    report = build_manifest(data, tmp_path / "m.csv")
    df = load_manifest(tmp_path / "m.csv")
    assert len(df) == 11 - 2
    assert not df.sha256.duplicated().any()
    assert report.skip_counts() == {"conflicting_labels": 2}


@pytest.mark.parametrize("make", ["missing", "empty", "unknown"])
def test_unknown_layout_or_empty_folder_is_a_clear_error(tmp_path, make):
    folder = tmp_path / "somewhere"
    if make != "missing":
        folder.mkdir()
    if make == "unknown":
        write_image(folder / "photos" / "a.jpg", 0)
        (folder / "notes.txt").write_text("hello")
    with pytest.raises(DataLayoutError) as err:
        build_manifest(folder, tmp_path / "m.csv")
    message = str(err.value)
    assert str(folder) in message and "faces_224/" in message and "{Real,Fake}" in message
    assert not (tmp_path / "m.csv").exists()


def test_bad_fractions_and_missing_manifest_are_clear_errors(two_sources, tmp_path):
    with pytest.raises(ValueError, match="sum below 1"):
        build_manifest(two_sources, tmp_path / "m.csv", val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match="non-negative"):
        build_manifest(two_sources, tmp_path / "m.csv", seed=-1)
    with pytest.raises(FileNotFoundError, match="make data"):
        load_manifest(tmp_path / "nothing.csv")


def test_a_group_tying_two_given_splits_together_keeps_one_side(tmp_path):
    data = tmp_path / "data"
    given = make_folder_dataset(data / "given", {("Train", "Real"): 3, ("Train", "Fake"): 3,
                                                 ("Test", "Real"): 3, ("Test", "Fake"): 3}, seed=1)
    videos = make_metadata_dataset(data / "videos", n_real=10, fakes_per_real=[1], seed=2)
    # r000 and its fake f000_0 form one group; they are byte-copies of a Train real and a Test fake of `given`.
    shutil.copy(given / "Train" / "Real" / "img_000.jpg", videos / "faces_224" / "r000.jpg")
    shutil.copy(given / "Test" / "Fake" / "img_000.jpg", videos / "faces_224" / "f000_0.jpg")
    report = build_manifest(data, tmp_path / "m.csv", seed=0)
    df = load_manifest(tmp_path / "m.csv")
    audit_leakage(df)
    # A 1:1 tie goes to the evaluation side (test); the Train copy would leak, so it is dropped and counted.
    assert report.skip_counts() == {"linked_across_splits": 1}
    assert not df.path.str.endswith("given/Train/Real/img_000.jpg").any()
    tied = df[df.path.str.contains("r000|f000_0|Test/Fake/img_000")]
    assert len(tied) == 3 and set(tied.split) == {"test"} and tied.group.nunique() == 1
