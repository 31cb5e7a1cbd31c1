"""`data --synthetic-fakes sbi`: self-blended fakes join the training split only, in their source's group, cached."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from imagefiles import make_metadata_dataset

from deepfake_zoo.datasets import self_blend
from deepfake_zoo.datasets.manifest import build_manifest


@pytest.fixture
def counted_detector(monkeypatch):
    """Fixed landmarks for a 32px face (eyes, nose, mouth corners), counting its calls; no MTCNN needed."""
    calls = []

    def detect(image):
        calls.append(image.shape)
        return np.array([[11, 12], [21, 12], [16, 17], [12, 23], [20, 23]], dtype=float)

    monkeypatch.setattr(self_blend, "detect_landmarks", detect)
    return calls


def test_self_blended_fakes_are_training_rows_of_their_sources_group(tmp_path, counted_detector):
    data = tmp_path / "data"
    make_metadata_dataset(data / "dfdc", n_real=20, fakes_per_real=[1] * 20, seed=3)
    plain = build_manifest(data, tmp_path / "plain" / "splits.csv", seed=0)
    report = build_manifest(data, tmp_path / "sbi" / "splits.csv", seed=0, synthetic_fakes="sbi", sbi_ratio=0.5)
    base = pd.read_csv(tmp_path / "plain" / "splits.csv")
    with_sbi = pd.read_csv(tmp_path / "sbi" / "splits.csv")
    blends = with_sbi[with_sbi["source"] == "dfdc+sbi"]
    real_train = base[(base["split"] == "train") & (base["label"] == 0)]
    assert len(blends) == round(0.5 * len(real_train)) == len(counted_detector) > 0
    assert set(blends["split"]) == {"train"} and set(blends["label"]) == {1}
    assert set(blends["group"]) <= set(real_train["group"])
    assert all(str(tmp_path / "sbi" / "sbi") in p for p in blends["path"])
    # Everything else is the build without blends, row for row: validation and test never change.
    rest = with_sbi[with_sbi["source"] != "dfdc+sbi"].reset_index(drop=True)
    pd.testing.assert_frame_equal(rest, base)
    assert "self-blended fakes added to train" in report.to_text() and plain.synthetic_fakes == "none"
    # A rebuild reuses every blend: no detection, the same manifest.
    before = (tmp_path / "sbi" / "splits.csv").read_bytes()
    counted_detector.clear()
    build_manifest(data, tmp_path / "sbi" / "splits.csv", seed=0, synthetic_fakes="sbi", sbi_ratio=0.5)
    assert counted_detector == [] and (tmp_path / "sbi" / "splits.csv").read_bytes() == before


@pytest.mark.parametrize("kind, ratio", [("gan", 0.5), ("sbi", 0.0), ("sbi", 1.5)])
def test_unknown_kind_or_ratio_is_one_sentence(tmp_path, kind, ratio):
    with pytest.raises(ValueError, match="--synthetic-fakes sbi --sbi-ratio"):
        build_manifest(None, tmp_path / "splits.csv", synthetic_fakes=kind, sbi_ratio=ratio)
