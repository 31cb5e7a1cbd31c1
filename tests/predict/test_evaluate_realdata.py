"""evaluate end to end on real faces: tiny models trained on DFDC crops, scored on real-and-fake-face's Test split."""
from __future__ import annotations

import json
import random
import shutil

import keras
import numpy as np
import pandas as pd
import pytest

from deepfake_zoo import cli
from deepfake_zoo.datasets.images import load_for_model

pytestmark = [pytest.mark.realdata, pytest.mark.slow]
PER_CLASS = 20


@pytest.fixture
def labelled_folder(real_data_root, tmp_path):
    """20 seeded images per class copied from real-and-fake-face/Dataset/Test/{Real,Fake} into Real/ and Fake/."""
    source = real_data_root / "real-and-fake-face" / "Dataset" / "Test"
    folder = tmp_path / "rff-test"
    rng = random.Random(0)
    for label in ("Real", "Fake"):
        files = sorted(p for p in (source / label).iterdir() if p.is_file())
        (folder / label).mkdir(parents=True)
        for path in rng.sample(files, PER_CLASS):
            shutil.copy(path, folder / label / path.name)
    return folder


def test_cross_dataset_evaluation_of_every_run_on_a_copied_real_test_split(trained_runs, labelled_folder, tmp_path,
                                                                           capsys):
    runs = shutil.copytree(trained_runs, tmp_path / "runs")

    code = cli.main(["evaluate", str(labelled_folder), "--runs", str(runs)])

    out = capsys.readouterr().out
    assert code == 0
    for name, size in (("tiny_32", 32), ("tiny_64", 64)):
        assert name in out
        folder = runs / name / "external" / "rff-test"
        metrics = json.loads((folder / "metrics.json").read_text())
        assert (metrics["n"], metrics["n_real"], metrics["n_fake"], metrics["n_skipped"]) == (40, 20, 20, 0)
        assert metrics["data"]["sources"] == {"rff-test": {"real": 20, "fake": 20}}
        assert metrics["data"]["synthetic"] is False
        assert 0.0 <= metrics["roc_auc"] <= 1.0 and metrics["threshold"] == json.loads(
            (runs / name / "metrics.json").read_text())["threshold"]
        predictions = pd.read_csv(folder / "predictions.csv")
        model = keras.saving.load_model(runs / name / "model.keras", compile=False)
        # The 600 px originals are resized exactly as the training pipeline resizes them.
        expected = model.predict(np.stack([load_for_model(p, size) for p in predictions["path"]]), verbose=0)[:, 0]
        np.testing.assert_allclose(predictions["prob_fake"], expected, atol=1e-5)
