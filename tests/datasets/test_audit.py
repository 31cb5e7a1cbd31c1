"""The leakage audit catches planted leaks and planted duplicates in a manifest that was clean."""
from __future__ import annotations

import pandas as pd
import pytest

from deepfake_zoo.datasets.audit import LeakageError, audit_leakage
from deepfake_zoo.datasets.manifest import build_manifest, load_manifest
from imagefiles import make_metadata_dataset


@pytest.fixture
def clean(tmp_path) -> pd.DataFrame:
    data = make_metadata_dataset(tmp_path / "dfdc", n_real=20, fakes_per_real=[1, 2])
    build_manifest(data, tmp_path / "m.csv", seed=0)
    df = load_manifest(tmp_path / "m.csv")
    assert audit_leakage(df) == []
    return df


def _other_split(split: str) -> str:
    return "test" if split != "test" else "train"


def test_planted_group_leak_is_caught(clean):
    shared = clean[clean.duplicated("group", keep=False)].iloc[0]
    leaked = clean.copy()
    leaked.loc[shared.name, "split"] = _other_split(shared.split)
    with pytest.raises(LeakageError, match="group"):
        audit_leakage(leaked)


def test_planted_identical_file_in_another_split_is_caught(clean):
    victim = clean.iloc[0]
    copy = victim.copy()
    copy["path"] = victim.path.replace(".jpg", "_copy.jpg")
    copy["group"] = "dfdc/somebody-else"
    copy["split"] = _other_split(victim.split)
    with pytest.raises(LeakageError, match="sha256"):
        audit_leakage(pd.concat([clean, copy.to_frame().T], ignore_index=True))


def test_planted_duplicate_in_the_same_split_is_reported_not_raised(clean):
    victim = clean.iloc[3]
    copy = victim.copy()
    copy["path"] = victim.path.replace(".jpg", "_copy.jpg")
    duplicates = audit_leakage(pd.concat([clean, copy.to_frame().T], ignore_index=True))
    assert len(duplicates) == 1
    assert "2 identical files" in duplicates[0] and victim.sha256[:12] in duplicates[0]


def test_identical_files_with_two_labels_and_bad_values_are_caught(clean):
    relabelled = clean.iloc[[5]].copy()
    relabelled["label"] = 1 - relabelled["label"]
    relabelled["path"] = "/elsewhere/x.jpg"
    with pytest.raises(LeakageError, match="both labels"):
        audit_leakage(pd.concat([clean, relabelled], ignore_index=True))
    bad = clean.copy()
    bad.loc[0, "split"] = "holdout"
    with pytest.raises(LeakageError, match="unknown split"):
        audit_leakage(bad)
