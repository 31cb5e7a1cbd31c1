"""End to end on real DFDC face crops with tiny models trained in the session: images, folders, videos, outputs."""
from __future__ import annotations

import csv
import io
import json
import shutil

import cv2
import keras
import numpy as np
import pytest

from deepfake_zoo.datasets.images import load_for_model, resize_for_model
from deepfake_zoo.predict import cli

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys, *argv) -> tuple[int, dict]:
    code, out, _ = run_cli(capsys, *argv, "--json")
    return code, json.loads(out)


def metrics_of(runs_dir, name) -> dict:
    return json.loads((runs_dir / name / "metrics.json").read_text())


def test_images_get_probabilities_labels_and_the_validation_threshold(trained_runs, face_crops, capsys, tmp_path):
    held_out = face_crops["held_out"]
    # The same face at another size and a non-square shape: predict must resize it exactly as training does.
    resized_png = tmp_path / "face_150.png"
    cv2.imwrite(str(resized_png), cv2.resize(cv2.imread(str(held_out[0])), (150, 150), interpolation=cv2.INTER_AREA))
    stretched_png = tmp_path / "face_300x260.png"
    cv2.imwrite(str(stretched_png), cv2.resize(cv2.imread(str(held_out[1])), (300, 260)))
    inputs = [*held_out, resized_png, stretched_png]

    code, report = run_json(capsys, *inputs, "--runs", trained_runs)

    assert code == 0
    threshold = metrics_of(trained_runs, "tiny_64")["threshold"]
    assert threshold != 0.5
    assert (report["model"], report["threshold"], report["image_size"]) == ("tiny_64", threshold, 64)
    results = report["results"]
    assert [r["path"] for r in results] == [str(p) for p in inputs]
    model = keras.saving.load_model(trained_runs / "tiny_64" / "model.keras")
    expected = model.predict(np.stack([load_for_model(p, 64) for p in inputs]), verbose=0)[:, 0]
    for result, want in zip(results, expected):
        assert result["status"] == "scored" and result["kind"] == "image"
        assert 0.0 <= result["prob_fake"] <= 1.0
        assert result["prob_fake"] == pytest.approx(float(want), abs=1e-5)
        assert result["label"] == ("fake" if result["prob_fake"] >= threshold else "real")
        assert (result["model"], result["threshold"]) == ("tiny_64", threshold)
    # PNG is lossless, so OpenCV's decoding equals TensorFlow's and this is the training resize applied by hand.
    for result, png in zip(results[-2:], (resized_png, stretched_png)):
        rgb = cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB)
        direct = model.predict(np.asarray(resize_for_model(rgb, 64))[None], verbose=0)[0, 0]
        assert result["prob_fake"] == pytest.approx(float(direct), abs=1e-5)
    assert report["summary"]["scored"] == len(inputs)


def test_the_same_image_gives_the_same_answer(trained_runs, face_crops, capsys):
    image = face_crops["held_out"][2]
    _, first = run_json(capsys, image, image, "--runs", trained_runs)
    _, again = run_json(capsys, image, "--runs", trained_runs, "--batch-size", "1")
    probs = [r["prob_fake"] for r in first["results"]] + [again["results"][0]["prob_fake"]]
    assert probs[0] == probs[1]
    assert probs[2] == pytest.approx(probs[0], abs=1e-6)
    assert len({r["label"] for r in first["results"] + again["results"]}) == 1


def test_json_schema_is_stable(trained_runs, face_crops, capsys, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    _, report = run_json(capsys, face_crops["held_out"][0], notes, "--runs", trained_runs)
    assert set(report) == {"model", "run_dir", "threshold", "temperature", "tta_flip", "image_size", "rank_by",
                           "rank_value", "summary", "results"}
    assert report["tta_flip"] is False
    assert report["summary"] == {"inputs": 2, "scored": 1, "fake": report["summary"]["fake"],
                                 "real": report["summary"]["real"], "no_face": 0, "failed": 1, "skipped": {}}
    assert report["summary"]["fake"] + report["summary"]["real"] == 1
    assert (report["rank_by"], report["rank_value"]) == ("roc_auc", 0.71)
    keys = {"path", "kind", "status", "label", "prob_fake", "threshold", "model", "frames_sampled",
            "frames_with_face", "frame_scores", "frame_indices", "error", "scored_on", "faces", "note", "skip"}
    assert all(set(r) == keys for r in report["results"])
    assert report["results"][1]["status"] == "error" and report["results"][1]["label"] is None


def test_csv_schema_is_stable(trained_runs, face_crops, capsys):
    code, out, _ = run_cli(capsys, *face_crops["held_out"][:3], "--runs", trained_runs, "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert out.splitlines()[0] == ("path,kind,status,label,prob_fake,threshold,model,frames_sampled,"
                                   "frames_with_face,frame_scores,error,scored_on,face_boxes,face_scores,note,skip")
    assert len(rows) == 3
    threshold = metrics_of(trained_runs, "tiny_64")["threshold"]
    for row in rows:
        prob = float(row["prob_fake"])
        assert 0.0 <= prob <= 1.0
        assert row["label"] == ("fake" if prob >= threshold else "real")
        assert float(row["threshold"]) == threshold
        assert (row["model"], row["error"], row["frame_scores"]) == ("tiny_64", "", "")


def test_table_names_model_threshold_and_each_input(trained_runs, face_crops, capsys):
    image = face_crops["held_out"][3]
    code, out, _ = run_cli(capsys, image, "--runs", trained_runs)
    threshold = metrics_of(trained_runs, "tiny_64")["threshold"]
    lines = out.splitlines()
    assert code == 0
    assert lines[0].startswith("model: tiny_64") and f"threshold {threshold:.3f}" in lines[0]
    assert lines[1].split()[:5] == ["verdict", "p(fake)", "threshold", "model", "faces"]
    assert lines[2].split()[0] in {"FAKE", "real"} and lines[2].endswith(str(image))
    assert lines[-1].startswith("1 input(s): 1 scored")


def test_folder_with_a_corrupt_image_and_a_text_file(trained_runs, face_crops, capsys, tmp_path):
    folder = tmp_path / "mixed"
    (folder / "nested").mkdir(parents=True)
    shutil.copy(face_crops["held_out"][0], folder / "good_a.jpg")
    shutil.copy(face_crops["held_out"][4], folder / "nested" / "good_b.jpg")
    (folder / "broken.jpg").write_bytes(face_crops["held_out"][1].read_bytes()[:40])
    (folder / "readme.txt").write_text("hello")
    code, report = run_json(capsys, folder, "--runs", trained_runs)
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in report["results"]}
    assert code == 1
    assert set(by_name) == {"good_a.jpg", "good_b.jpg", "broken.jpg", "readme.txt"}
    assert by_name["good_a.jpg"]["status"] == by_name["good_b.jpg"]["status"] == "scored"
    assert by_name["broken.jpg"]["status"] == "error" and "cannot read image" in by_name["broken.jpg"]["error"]
    assert by_name["readme.txt"]["status"] == "error" and "unsupported format '.txt'" in by_name["readme.txt"]["error"]
    assert report["summary"]["failed"] == 2


def test_empty_folder_and_missing_file_are_reported(trained_runs, face_crops, capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    code, out, _ = run_cli(capsys, tmp_path / "empty", tmp_path / "gone.jpg", face_crops["held_out"][0],
                           "--runs", trained_runs)
    assert code == 1
    assert "holds no files" in out and "no such file or folder" in out
    assert out.splitlines()[-1].startswith("3 input(s): 1 scored") and out.splitlines()[-1].endswith("2 not scored")


def test_video_with_a_face_scores_the_mean_of_its_frames(trained_runs, face_video, capsys):
    code, report = run_json(capsys, face_video, "--runs", trained_runs, "--frames", "8")
    result = report["results"][0]
    assert code == 0
    assert (result["kind"], result["status"], result["frames_sampled"]) == ("video", "scored", 8)
    assert result["frames_with_face"] >= 6
    assert len(result["frame_scores"]) == len(result["frame_indices"]) == result["frames_with_face"]
    assert result["frame_indices"] == sorted(result["frame_indices"])
    assert all(0.0 <= s <= 1.0 for s in result["frame_scores"])
    assert result["prob_fake"] == pytest.approx(float(np.mean(result["frame_scores"])), abs=1e-9)
    assert result["label"] == ("fake" if result["prob_fake"] >= result["threshold"] else "real")


def test_blank_wall_reports_no_face_and_broken_video_an_error(trained_runs, blank_video, capsys, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"definitely not an mp4" * 50)
    code, report = run_json(capsys, blank_video, broken, "--runs", trained_runs, "--frames", "4")
    wall, bad = report["results"]
    assert code == 1
    assert (wall["status"], wall["label"], wall["prob_fake"]) == ("no_face", None, None)
    assert (wall["frames_sampled"], wall["frames_with_face"], wall["frame_scores"]) == (4, 0, [])
    assert "no face found in any of the 4 sampled frames" in wall["error"]
    assert bad["status"] == "error" and "broken.mp4" in bad["error"]
    assert report["summary"]["no_face"] == 1 and report["summary"]["failed"] == 2


def test_best_model_is_used_and_model_flag_picks_the_other(trained_runs, face_crops, capsys):
    image = face_crops["held_out"][5]
    _, best = run_json(capsys, image, "--runs", trained_runs)
    _, other = run_json(capsys, image, "--runs", trained_runs, "--model", "tiny_32")
    _, by_eer = run_json(capsys, image, "--runs", trained_runs, "--rank-by", "eer")
    assert (best["model"], best["image_size"]) == ("tiny_64", 64)
    small = metrics_of(trained_runs, "tiny_32")
    assert (other["model"], other["image_size"], other["threshold"]) == ("tiny_32", 32, small["threshold"])
    assert other["results"][0]["model"] == "tiny_32"
    assert by_eer["model"] == "tiny_32"
    code, out, err = run_cli(capsys, image, "--runs", trained_runs, "--model", "tiny_128")
    assert code == 2 and out == ""
    assert "unknown model 'tiny_128'" in err and "available runs: tiny_32, tiny_64" in err
