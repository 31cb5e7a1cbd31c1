"""Hostile input and faults in `data` (issue 13): nothing half-replaced, no traceback, every skipped file counted."""
from __future__ import annotations

import argparse
import ast
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from deepfake_zoo.datasets import cli, manifest as manifest_module
from deepfake_zoo.datasets.images import decode_rgb
from deepfake_zoo.datasets.layouts import DataLayoutError
from deepfake_zoo.datasets.manifest import build_manifest, load_manifest
from deepfake_zoo.datasets.report import BuildReport
from deepfake_zoo.datasets.screening import MAX_PIXELS, SKIP_REASONS, screen_image
from imagefiles import make_folder_dataset, make_metadata_dataset, write_image

OUTPUTS = ("splits.csv", "report.json", "report.txt")


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(argv))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in OUTPUTS}


@pytest.fixture
def built(two_sources, tmp_path) -> tuple[Path, Path, dict[str, bytes]]:
    """A finished build in out/ (seed 0), and its outputs' bytes: the work a failed rebuild must not touch."""
    out = tmp_path / "out"
    build_manifest(two_sources, out / "splits.csv", seed=0)
    return two_sources, out, _snapshot(out)


def _no_leftovers(folder: Path) -> bool:
    return not [p.name for p in folder.iterdir() if p.name.startswith(".")]


# Item 3: a failed build leaves every previous output as it was.

def test_a_build_failing_on_the_text_report_replaces_nothing(built, monkeypatch):
    data, out, before = built

    def broken(self):
        raise RuntimeError("report.txt could not be rendered")

    monkeypatch.setattr(BuildReport, "to_text", broken)
    with pytest.raises(RuntimeError, match="rendered"):
        build_manifest(data, out / "splits.csv", seed=1)  # another seed: a different manifest had it succeeded
    assert _snapshot(out) == before and _no_leftovers(out)


def test_report_txt_being_a_folder_stops_the_build_before_anything_is_replaced(built, capsys):
    data, out, before = built
    (out / "report.txt").unlink()
    (out / "report.txt").mkdir()
    with pytest.raises(IsADirectoryError, match="report.txt is a folder"):
        build_manifest(data, out / "splits.csv", seed=1)
    assert (out / "splits.csv").read_bytes() == before["splits.csv"]
    assert (out / "report.json").read_bytes() == before["report.json"]


def test_a_rename_failing_midway_puts_the_earlier_outputs_back(built, monkeypatch):
    data, out, before = built
    real_replace = os.replace

    def failing_on_the_last(src, dst):
        if Path(dst).name == "report.txt" and ".part" in Path(src).name and not Path(src).name.endswith(".old"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_on_the_last)
    with pytest.raises(OSError, match="No space left"):
        build_manifest(data, out / "splits.csv", seed=1)
    assert _snapshot(out) == before and _no_leftovers(out)


def test_a_first_build_that_fails_leaves_no_partial_outputs(two_sources, tmp_path, monkeypatch):
    def broken(self):
        raise RuntimeError("no text")

    monkeypatch.setattr(BuildReport, "to_text", broken)
    with pytest.raises(RuntimeError):
        build_manifest(two_sources, tmp_path / "new" / "splits.csv", seed=0)
    assert not any((tmp_path / "new" / name).exists() for name in OUTPUTS) and _no_leftovers(tmp_path / "new")


# Item 11: Ctrl-C is one line and exit 130, and nothing was replaced.

@pytest.mark.parametrize("where", ["screening", "swap"])
def test_ctrl_c_says_what_was_kept_and_exits_130(built, monkeypatch, capsys, where):
    data, out, before = built
    if where == "screening":
        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(manifest_module, "_assign_splits", interrupted)
    else:
        real_replace, calls = os.replace, []

        def interrupted_on_second(src, dst):
            calls.append(dst)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return real_replace(src, dst)

        monkeypatch.setattr(os, "replace", interrupted_on_second)
    capsys.readouterr()
    assert _run(["--data", str(data), "--manifest", str(out / "splits.csv"), "--seed", "1"]) == 130
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "interrupted" in err[0] and "not replaced" in err[0] and "Traceback" not in captured.err
    monkeypatch.undo()
    assert _snapshot(out) == before and _no_leftovers(out)


# Item 12: a bad metadata.csv is named, with the fix, and stops the build (see layouts.read_metadata_csv for why).

@pytest.mark.parametrize("content, words", [
    (b"", "is empty"),
    (b"videoname,label,original\nr000.mp4,REAL,\nf000_0.mp4,FAKE,r000.mp4,extra,more\n", "Expected 3 fields"),
    (b"videoname,label,original\n\xff\xfe\x00r000.mp4,REAL,\n", "not a readable CSV"),
], ids=["empty", "ragged", "not-utf8"])
def test_a_bad_metadata_csv_is_named_with_the_fix(two_sources, tmp_path, capsys, content, words):
    csv = two_sources / "faceset" / "metadata.csv"
    csv.write_bytes(content)
    with pytest.raises(DataLayoutError) as err:
        build_manifest(two_sources, tmp_path / "out" / "splits.csv", seed=0)
    message = str(err.value)
    assert str(csv) in message and words in message and "move its dataset folder faceset/" in message
    assert _run(["--data", str(two_sources), "--manifest", str(tmp_path / "out" / "splits.csv")]) == 1
    printed = capsys.readouterr().err.strip().splitlines()
    assert len(printed) == 1 and str(csv) in printed[0]
    assert not (tmp_path / "out" / "splits.csv").exists()


# Items 13 and 14: odd directory entries are skipped with a counted reason; none stops the build.

def _count_everything(folder: Path, report, source: str) -> None:
    """Every entry in the class folders is a manifest row or a counted skip: nothing disappears unexplained."""
    listed = sum(1 for d in ("Real", "Fake") for _ in os.scandir(os.fsencode(folder / d)))
    rows = sum(sum(per_label.values()) for per_label in report.counts[source].values())
    assert listed == rows + sum(report.skipped[source].values())


def test_file_names_that_are_not_utf8_are_skipped_and_named(tmp_path):
    data = tmp_path / "data"
    folder = make_folder_dataset(data / "odd", {(None, "Real"): 4, (None, "Fake"): 4}, seed=5)
    with open(os.fsencode(folder / "Real") + b"/bad\xffname.jpg", "wb") as handle:
        handle.write(write_image(tmp_path / "x.jpg", seed=50).read_bytes())
    faces = make_metadata_dataset(data / "faces", n_real=3, fakes_per_real=[1], seed=6)
    with open(os.fsencode(faces / "faces_224") + b"/r\xe9sum\xe9.jpg", "wb") as handle:  # a Latin-1 name
        handle.write(write_image(tmp_path / "y.jpg", seed=53).read_bytes())

    report = build_manifest(data, tmp_path / "out" / "splits.csv", seed=0)
    assert report.skipped == {"odd": {"bad_file_name": 1}, "faces": {"bad_file_name": 1}}
    _count_everything(folder, report, "odd")
    examples = report.examples["bad_file_name"]
    assert any(e.endswith("bad\\xffname.jpg") for e in examples) and any("r\\xe9sum\\xe9" in e for e in examples)
    assert SKIP_REASONS["bad_file_name"] in (tmp_path / "out" / "report.txt").read_text(encoding="utf-8")
    assert len(load_manifest(tmp_path / "out" / "splits.csv")) == 8 + 6


def test_a_dataset_folder_named_in_bad_bytes_is_named_readably(tmp_path):
    data = tmp_path / "data"
    make_folder_dataset(data / "good", {(None, "Real"): 2, (None, "Fake"): 2}, seed=7)
    good = write_image(tmp_path / "z.jpg", seed=54).read_bytes()
    for label in (b"Real", b"Fake"):
        os.makedirs(os.fsencode(data) + b"/set\xff/" + label)
        with open(os.fsencode(data) + b"/set\xff/" + label + b"/a.jpg", "wb") as handle:
            handle.write(good)
    with pytest.raises(DataLayoutError, match=r"set\\xff has a name that is not valid UTF-8.*rename it"):
        build_manifest(data, tmp_path / "out" / "splits.csv", seed=0)


def test_broken_links_fifos_and_hidden_files_are_counted(tmp_path):
    folder = make_folder_dataset(tmp_path / "data" / "odd", {(None, "Real"): 4, (None, "Fake"): 4}, seed=5)
    (folder / "Fake" / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    os.mkfifo(folder / "Fake" / "pipe.jpg")
    write_image(folder / "Real" / ".hidden.jpg", seed=51)
    (folder / "Real" / "linked.jpg").symlink_to(write_image(tmp_path / "elsewhere.jpg", seed=52))  # a good link

    report = build_manifest(folder, tmp_path / "out" / "splits.csv", seed=0)
    assert report.skipped["odd"] == {"broken_link": 1, "not_a_file": 1, "hidden_file": 1}
    _count_everything(folder, report, "odd")
    text = (tmp_path / "out" / "report.txt").read_text()
    assert all(SKIP_REASONS[reason] in text for reason in ("broken_link", "not_a_file", "hidden_file"))
    df = load_manifest(tmp_path / "out" / "splits.csv")
    assert len(df) == 9 and df.path.str.endswith("linked.jpg").sum() == 1


# The one screening rule `predict` shares: a path or bytes in, RGB pixels or a skip reason out, nothing written.

def _png(array: np.ndarray, mode: str) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format="PNG")
    return buffer.getvalue()


def test_screen_image_without_a_converted_dir_returns_the_pixels_training_sees(tmp_path):
    rng = np.random.default_rng(7)
    jpeg = write_image(tmp_path / "ok.jpg", seed=7)
    result = screen_image(jpeg)
    assert result.skip is None and np.array_equal(result.rgb, decode_rgb(tf.io.read_file(str(jpeg))).numpy())
    assert np.array_equal(screen_image(jpeg.read_bytes()).rgb, result.rgb)

    gray = rng.integers(0, 256, (16, 16), dtype=np.uint8)
    converted = screen_image(_png(gray, "L"))
    assert converted.conversion == "grayscale" and np.array_equal(converted.rgb, np.repeat(gray[..., None], 3, 2))
    # The same bytes through the build's way give a PNG that decodes to the very same pixels.
    built = screen_image(_png(gray, "L"), tmp_path / "converted")
    assert np.array_equal(decode_rgb(tf.io.read_file(str(built.path))).numpy(), converted.rgb)

    rgba = np.dstack([rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), np.full((16, 16), 255, np.uint8)])
    rgba[0, 0, 3] = 10
    assert screen_image(_png(rgba, "RGBA")).skip == "transparent"
    assert screen_image(jpeg, max_pixels=15 * 15).skip == "too_large" and MAX_PIXELS >= 50_000_000
    os.mkfifo(tmp_path / "pipe.png")
    assert screen_image(tmp_path / "pipe.png").skip == "not_a_file"  # returns at once: a FIFO is never opened
    (tmp_path / "dangling.png").symlink_to(tmp_path / "gone.png")
    assert screen_image(tmp_path / "dangling.png").skip == "broken_link"
    assert screen_image(b"").skip == "empty" and screen_image(b"<html>").skip == "not_an_image"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["converted", "dangling.png", "ok.jpg", "pipe.png"]


def test_an_unreadable_file_is_a_counted_skip(tmp_path, monkeypatch):
    data = make_folder_dataset(tmp_path / "data" / "locked", {(None, "Real"): 3, (None, "Fake"): 3}, seed=8)
    secret = data / "Real" / "img_000.jpg"
    real_read = Path.read_bytes

    def denied(self):
        # chmod 0 would not stop root (tests may run as root), so the refusal is simulated.
        if self == secret:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    report = build_manifest(data, tmp_path / "out" / "splits.csv", seed=0)
    assert report.skipped["locked"] == {"unreadable": 1}
    assert report.examples["unreadable"] == ["Real/img_000.jpg"]


# Issue 12, item 2: no import cycle inside the datasets room.

def test_the_datasets_modules_import_each_other_without_a_cycle():
    import deepfake_zoo.datasets as room

    folder = Path(room.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        name = path.stem
        graph[name] = set()
        for node in ast.walk(ast.parse(path.read_text())):  # function-level imports count too
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("deepfake_zoo.datasets."):
                graph[name].add(node.module.split(".")[2])
            elif isinstance(node, ast.ImportFrom) and node.module == "deepfake_zoo.datasets":
                graph[name].update(alias.name for alias in node.names)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, ()))

    assert [name for name in sorted(graph) if reaches(name, name, set())] == []
