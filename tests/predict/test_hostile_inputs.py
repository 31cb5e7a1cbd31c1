"""Bad input predict must survive as `data` does (issue 13: items 8, 17, 18): one screening rule, regular files only."""
from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest

from predict_fixtures import big_grey_png, write_png
from deepfake_zoo.datasets.screening import MAX_PIXELS, screen_image
from deepfake_zoo.predict import cli
from deepfake_zoo.predict.inputs import collect_inputs


def predict_json(capsys, *argv) -> tuple[int, dict]:
    code = cli.main([str(a) for a in argv] + ["--json"])
    return code, json.loads(capsys.readouterr().out)


def test_transparent_images_are_skipped_as_data_skips_them(tiny_runs, capsys, tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (40, 40, 4), dtype=np.uint8)
    pixels[..., 3] = 255
    opaque = write_png(tmp_path / "opaque.png", pixels)
    pixels[:10, :10, 3] = 0
    transparent = write_png(tmp_path / "transparent.png", pixels)
    # The one rule: datasets.screening says transparent for this file, and predict must agree.
    assert screen_image(transparent, tmp_path / "converted").skip == "transparent"

    code, report = predict_json(capsys, opaque, transparent, "--runs", tiny_runs, "--faces", "none")

    assert code == 1
    first, second = report["results"]
    assert first["status"] == "scored" and first["skip"] is None
    assert (second["status"], second["skip"], second["prob_fake"]) == ("skipped", "transparent", None)
    assert "transparent" in second["error"]
    assert report["summary"]["skipped"] == {"transparent": 1}
    assert report["summary"]["failed"] == 1


def test_images_over_the_pixel_limit_are_refused_before_decoding(tiny_runs, capsys, tmp_path):
    side = int(MAX_PIXELS ** 0.5) + 100  # just over the limit, yet only ~70 KB on disk
    bomb = tmp_path / "bomb.png"
    big_grey_png(bomb, side, side)
    assert bomb.stat().st_size < 1_000_000

    code, report = predict_json(capsys, bomb, "--runs", tiny_runs, "--faces", "none")

    assert code == 1
    result = report["results"][0]
    assert (result["status"], result["skip"]) == ("skipped", "too_large")
    assert f"{side} x {side}" in result["error"]
    assert report["summary"]["skipped"] == {"too_large": 1}


def test_a_fifo_in_a_folder_is_counted_not_read(tiny_runs, capsys, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    write_png(folder / "a.png", np.full((20, 20, 3), 128, dtype=np.uint8))
    os.mkfifo(folder / "b.jpg")

    items = collect_inputs([folder])
    assert [(item.kind, os.path.basename(item.path)) for item in items] == [("image", "a.png"), ("error", "b.jpg")]
    assert "not a regular file" in items[1].error

    # The whole run must finish: reading the FIFO would block forever with no writer.
    outcome = {}

    def predict_folder():
        outcome["code"], outcome["report"] = predict_json(capsys, folder, "--runs", tiny_runs, "--faces", "none")

    worker = threading.Thread(target=predict_folder, daemon=True)
    worker.start()
    worker.join(timeout=120)
    if worker.is_alive():
        with open(folder / "b.jpg", "wb"):  # unblock the reader so the test process can end
            pass
        pytest.fail("predict hung on a FIFO inside a folder")
    assert outcome["code"] == 1
    assert [r["status"] for r in outcome["report"]["results"]] == ["scored", "error"]


def test_a_broken_link_in_a_folder_is_reported(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "gone.png").symlink_to(tmp_path / "missing.png")
    items = collect_inputs([folder])
    assert [(item.kind, "broken link" in item.error) for item in items] == [("error", True)]
