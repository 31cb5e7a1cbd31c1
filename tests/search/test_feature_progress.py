"""Computing a feature cache shows a progress bar, and the bar leaves the cached features bit-identical."""
from __future__ import annotations

import keras
import numpy as np
import pandas as pd
from PIL import Image

from deepfake_zoo import progress
from deepfake_zoo.datasets.pipeline import make_dataset
from deepfake_zoo.search.features import FeatureCache


def _frame(folder, n=7):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        path = folder / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(path)
        rows.append({"path": str(path), "label": i % 2, "split": "val", "sha256": f"{i:064x}"})
    return pd.DataFrame(rows)


def _extractor():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, activation="relu"),
                             keras.layers.GlobalAveragePooling2D()])


def test_features_with_and_without_the_bar_are_equal(tmp_path, monkeypatch, capsys):
    frame = _frame(tmp_path)
    extractor = _extractor()
    quiet = FeatureCache(tmp_path / "quiet", "tiny", 16, extractor, batch_size=3, quiet=True).features(frame, "val")
    assert capsys.readouterr().err == ""

    monkeypatch.setattr(progress, "watched", lambda stream: True)  # as if stderr were a terminal
    shown = FeatureCache(tmp_path / "shown", "tiny", 16, extractor, batch_size=3).features(frame, "val")
    err = capsys.readouterr().err
    assert "tiny features: val, none" in err and "7/7" in err

    plain = np.asarray(extractor.predict(make_dataset(frame, "val", 16, batch_size=3, shuffle=False), verbose=0))
    assert np.array_equal(quiet, shown) and np.array_equal(shown, plain)
