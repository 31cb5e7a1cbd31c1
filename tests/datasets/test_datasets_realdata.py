"""The manifest and pipeline on the real Kaggle-layout datasets (DEEPFAKE_ZOO_DATA): counts, no leaks, a batch."""
from __future__ import annotations

import numpy as np
import pytest

from deepfake_zoo.datasets.audit import audit_leakage
from deepfake_zoo.datasets.manifest import load_manifest
from deepfake_zoo.datasets.pipeline import make_dataset

pytestmark = pytest.mark.realdata


def test_real_manifest_counts_no_leaks_and_a_batch(real_manifest):
    path, report = real_manifest
    df = load_manifest(path)

    assert report.sources == ["deepfake-faces", "real-and-fake-face"]
    assert report.layouts == {"deepfake-faces": "metadata", "real-and-fake-face": "folder"}
    assert not report.data_is_synthetic and report.skip_counts() == {}
    faces = df[df.source == "deepfake-faces"]
    assert len(faces) == 29_722
    assert faces.groupby("label").size().to_dict() == {0: 14_861, 1: 14_861}
    folder = df[df.source == "real-and-fake-face"]
    assert len(folder) == 2_041
    # The folder set keeps its given split exactly.
    given = {(split, label): n for split, (real, fake) in
             {"train": (864, 768), "val": (108, 96), "test": (109, 96)}.items()
             for label, n in ((0, real), (1, fake))}
    assert folder.groupby(["split", "label"]).size().to_dict() == given
    # The DFDC crops are split by group, 70/15/15, and each fake sits with its original real video.
    shares = faces.split.value_counts(normalize=True)
    assert abs(shares["train"] - 0.70) < 0.01 and abs(shares["test"] - 0.15) < 0.01
    assert faces.groupby("group").split.nunique().max() == 1
    assert faces.groupby("group").label.nunique().min() == 2
    # The real data holds byte-identical copies (50 pairs): kept, grouped, never across splits.
    assert report.duplicate_sets == 50 and report.duplicate_files == 100
    assert df.groupby("sha256").split.nunique().max() == 1
    assert len(audit_leakage(df)) == 50

    for source, rows in (("deepfake-faces", faces), ("real-and-fake-face", folder)):
        subset = df[df.path.isin(rows[rows.split == "test"].path.head(8))]
        images, labels = next(iter(make_dataset(subset, "test", 96, batch_size=8, augment="flip_rotation")))
        assert images.shape == (8, 96, 96, 3) and labels.shape == (8,), source
        values = images.numpy()
        assert values.dtype == np.float32 and values.min() >= 0.0 and values.max() <= 255.0
        assert values.max() > 100.0 and values.std() > 10.0, source
        assert set(labels.numpy().tolist()) <= {0.0, 1.0}
