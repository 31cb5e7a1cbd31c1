"""The embedded synthetic demo: deterministic bytes, a visible fake cue, and a build that says it is synthetic."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfake_zoo.datasets.demo import make_demo_dataset
from deepfake_zoo.datasets.manifest import build_manifest, load_manifest


def _digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes(tmp_path):
    a = make_demo_dataset(tmp_path / "a", seed=0, n_per_class=6, image_size=32)
    b = make_demo_dataset(tmp_path / "b", seed=0, n_per_class=6, image_size=32)
    c = make_demo_dataset(tmp_path / "c", seed=1, n_per_class=6, image_size=32)
    assert _digest(a) == _digest(b)
    assert len([k for k in _digest(a) if k.endswith(".png")]) == 12
    pngs = lambda d: {k: v for k, v in d.items() if k.endswith(".png")}  # noqa: E731
    assert not set(pngs(_digest(a)).values()) & set(pngs(_digest(c)).values())
    with Image.open(a / "Fake" / "fake_0000.png") as image:
        assert image.size == (32, 32) and image.mode == "RGB"


def test_regenerating_replaces_the_old_demo_but_never_a_foreign_folder(tmp_path):
    root = make_demo_dataset(tmp_path / "demo", n_per_class=5, image_size=16)
    make_demo_dataset(root, n_per_class=2, image_size=16)
    assert len(list((root / "Real").iterdir())) == 2
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="not empty"):
        make_demo_dataset(foreign)
    assert (foreign / "holiday.jpg").read_bytes() == b"x"


def test_fakes_carry_a_smooth_warm_patch_a_model_can_learn(tmp_path):
    root = make_demo_dataset(tmp_path / "demo", seed=0, n_per_class=40, image_size=64)

    def cue(path: Path) -> tuple[float, float]:
        x = np.asarray(Image.open(path), dtype=float)[24:40, 24:40]
        # Local roughness (camera noise survives only outside the pasted patch) and red-minus-blue warmth.
        roughness = np.abs(np.diff(x, axis=0)).mean() + np.abs(np.diff(x, axis=1)).mean()
        return roughness, float((x[..., 0] - x[..., 2]).mean())

    real = np.array([cue(p) for p in sorted((root / "Real").iterdir())])
    fake = np.array([cue(p) for p in sorted((root / "Fake").iterdir())])
    threshold = (np.median(real[:, 0]) + np.median(fake[:, 0])) / 2
    accuracy = ((real[:, 0] > threshold).mean() + (fake[:, 0] <= threshold).mean()) / 2
    assert accuracy > 0.9, f"roughness alone should separate the classes, got {accuracy:.2f}"
    assert fake[:, 1].mean() > real[:, 1].mean()


def test_build_without_data_uses_the_demo_and_says_so(tmp_path):
    report = build_manifest(None, tmp_path / "build" / "splits.csv", seed=0)
    df = load_manifest(tmp_path / "build" / "splits.csv")
    assert report.data_is_synthetic and report.sources == ["demo"]
    assert len(df) == 300 and set(df.source) == {"demo"}
    assert df.groupby("label").size().to_dict() == {0: 150, 1: 150}
    assert (df.width == 64).all()
    assert all(p.startswith(str(tmp_path / "build" / "demo-data" / "demo")) for p in df.path)
    assert json.loads((tmp_path / "build" / "report.json").read_text())["data_is_synthetic"] is True
    assert "SYNTHETIC DEMO" in (tmp_path / "build" / "report.txt").read_text()
    # Pointing --data at the generated folder later still reports it as synthetic.
    again = build_manifest(tmp_path / "build" / "demo-data", tmp_path / "other" / "splits.csv", seed=0)
    assert again.data_is_synthetic
    assert (tmp_path / "other" / "splits.csv").read_bytes() == (tmp_path / "build" / "splits.csv").read_bytes()


def test_an_existing_complete_demo_is_left_untouched(tmp_path):
    root = make_demo_dataset(tmp_path / "demo", n_per_class=3, image_size=16)
    stamp = (root / "Real" / "real_0000.png").stat().st_mtime_ns
    assert make_demo_dataset(root, n_per_class=3, image_size=16) == root
    assert (root / "Real" / "real_0000.png").stat().st_mtime_ns == stamp
    (root / "Fake" / "fake_0002.png").unlink()
    make_demo_dataset(root, n_per_class=3, image_size=16)
    assert (root / "Fake" / "fake_0002.png").is_file()
