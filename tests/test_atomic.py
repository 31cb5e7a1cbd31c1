"""Atomic writes: a target is replaced whole, or left as it was; no partial file is ever left behind."""
from __future__ import annotations

import stat

import pytest

from deepfake_zoo.atomic import atomic_path, write_text


def test_write_replaces_whole_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "deep" / "metrics.json"
    write_text(target, "first")
    write_text(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in target.parent.iterdir()] == ["metrics.json"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "model.keras"
    target.write_text("good")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.name.endswith(".keras")  # writers that check the suffix accept it
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]
