"""Expanding user paths into work items: recursion, order, and per-path errors instead of exceptions."""
from __future__ import annotations

from deepfake_zoo.predict.inputs import collect_inputs


def test_folders_are_walked_recursively_in_sorted_order(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "deeper").mkdir()
    for name in ("z.PNG", "a.jpg", "b/clip.MP4", "b/deeper/c.jpeg", "notes.txt", ".DS_Store", "b/deeper/README"):
        (tmp_path / name).write_bytes(b"x")
    items = collect_inputs([tmp_path])
    assert [(item.path, item.kind) for item in items] == [
        (str(tmp_path / "a.jpg"), "image"),
        (str(tmp_path / "b" / "clip.MP4"), "video"),
        (str(tmp_path / "b" / "deeper" / "README"), "error"),
        (str(tmp_path / "b" / "deeper" / "c.jpeg"), "image"),
        (str(tmp_path / "notes.txt"), "error"),
        (str(tmp_path / "z.PNG"), "image"),
    ]
    errors = {item.path: item.error for item in items if item.kind == "error"}
    assert "unsupported format '.txt'" in errors[str(tmp_path / "notes.txt")]
    assert "unsupported format '(no extension)'" in errors[str(tmp_path / "b" / "deeper" / "README")]


def test_missing_paths_and_empty_folders_become_error_items(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "face.jpg").write_bytes(b"x")
    items = collect_inputs([tmp_path / "missing.jpg", tmp_path / "empty", tmp_path / "face.jpg"])
    assert [item.kind for item in items] == ["error", "error", "image"]
    assert "no such file or folder" in items[0].error
    assert "holds no files" in items[1].error
