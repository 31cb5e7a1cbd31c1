"""Hostile run folders and paths: a broken run is listed with its reason and the page still renders the others;
a runs folder that does not exist is an error that keeps the old page."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from deepfake_zoo.leaderboard import cli
from deepfake_zoo.leaderboard.render import build_leaderboard, write_leaderboard
from leaderboard_fixtures import make_run, parse_page

GOOD = {"model": "hostile", "accuracy": 0.8, "roc_auc": 0.85}
NESTED = "[" * 1500 + "]" * 1500


def _json(**fields) -> bytes:
    return json.dumps({**GOOD, **fields}).encode()


# name -> (bytes of runs/hostile/metrics.json, words the skip reason must hold)
HOSTILE_METRICS = {
    "nested 1,500 levels": (b'{"accuracy": 0.8, "best_params": {"x": ' + NESTED.encode() + b"}}",
                            "nested too deeply"),
    "nested 1,500 levels at the top": (NESTED.encode(), "nested too deeply"),
    "nested 100 levels": (_json(best_params={"x": json.loads("[" * 100 + "]" * 100)}), "deeper than 32 levels"),
    "a 5,000-digit number": (b'{"accuracy": 0.8, "n_test": 1' + b"0" * 5000 + b"}", "not readable JSON"),
    "NaN accuracy": (b'{"model": "hostile", "accuracy": NaN, "roc_auc": 0.85}', "field accuracy is nan, not a number"),
    "infinite ROC AUC": (b'{"model": "hostile", "roc_auc": Infinity}', "field roc_auc is inf, not a number"),
    "1e999": (b'{"model": "hostile", "roc_auc": 0.8, "wall_time_s": 1e999}', "field wall_time_s is inf"),
    "not UTF-8": (b'{"model": "caf\xe9", "accuracy": 0.8}', "not readable JSON ('utf-8' codec"),
    "a lone surrogate": (b'{"model": "\\udcff", "accuracy": 0.8}', "not valid Unicode"),
    "a list": (b"[1, 2, 3]", "holds a list, not an object"),
    "model is a number": (_json(model=7), "field model is 7, not a name"),
    "synthetic as text": (_json(data_is_synthetic="false"), "data_is_synthetic is 'false', not true or false"),
    "per_source a list": (_json(per_source=[1]), "per_source is not an object"),
    "a source that is not an object": (_json(per_source={"faces": 0.9}), "per_source['faces'] is not an object"),
    "confusion matrix of text": (_json(confusion_matrix=[["a", 1], [2, 3]]), "confusion_matrix is not"),
    "a huge list": (_json(threshold=[0.5] * 100_000), "field threshold is a list, not a number"),
    "empty": (b"", "not readable JSON"),
}


@pytest.mark.parametrize("case", list(HOSTILE_METRICS))
def test_a_hostile_metrics_json_is_a_listed_skip_and_the_page_renders_the_others(tmp_path, case):
    content, reason = HOSTILE_METRICS[case]
    runs_dir = tmp_path / "runs"
    make_run(runs_dir, "good_model", 1.5, seed=1)
    (runs_dir / "hostile").mkdir()
    (runs_dir / "hostile" / "metrics.json").write_bytes(content)

    board = build_leaderboard(runs_dir)
    page = parse_page(board.write(tmp_path / "index.html").read_text(encoding="utf-8"))
    assert [row["__model__"] for row in page.rows] == ["good_model"]
    assert [(s.folder.name, reason in s.reason) for s in board.skipped] == [("hostile", True)], board.skipped
    assert "1 run folder skipped" in " ".join(page.text)
    assert board.skipped[0].reason.endswith("rerun the search for this model or delete the folder")


def test_an_oversized_metrics_json_is_not_read(tmp_path):
    runs_dir = tmp_path / "runs"
    make_run(runs_dir, "good_model", 1.5, seed=1)
    (runs_dir / "huge").mkdir()
    with open(runs_dir / "huge" / "metrics.json", "wb") as handle:
        handle.write(b'{"accuracy": 0.8, "pad": "')
        handle.truncate(64 * 1024 * 1024)  # sparse: 64 MB on paper, nothing on disk
    board = build_leaderboard(runs_dir)
    assert [r.name for r in board.runs] == ["good_model"]
    assert "67,108,864 bytes, more than the 8,388,608 a run file may hold" in board.skipped[0].reason


def test_a_fifo_named_metrics_json_is_skipped_without_hanging(tmp_path):
    runs_dir = tmp_path / "runs"
    make_run(runs_dir, "good_model", 1.5, seed=1)
    (runs_dir / "fifo").mkdir()
    os.mkfifo(runs_dir / "fifo" / "metrics.json")
    board = build_leaderboard(runs_dir)
    assert [r.name for r in board.runs] == ["good_model"]
    assert [(s.folder.name, s.reason.split(";")[0]) for s in board.skipped] == [
        ("fifo", "metrics.json is not a regular file")]
    (runs_dir / "dangling").mkdir()
    (runs_dir / "dangling" / "metrics.json").symlink_to(tmp_path / "nowhere.json")
    reasons = {s.folder.name: s.reason for s in build_leaderboard(runs_dir).skipped}
    assert reasons["dangling"].startswith("metrics.json is not a regular file")


def test_hostile_optional_files_cost_only_their_plots(tmp_path):
    runs_dir = tmp_path / "runs"
    make_run(runs_dir, "odd", 1.5, seed=1)
    odd = runs_dir / "odd"
    metrics = json.loads((odd / "metrics.json").read_text())
    del metrics["confusion_matrix"]  # so the confusion plot falls back to predictions.csv's pred column
    (odd / "metrics.json").write_text(json.dumps(metrics))
    (odd / "predictions.csv").write_text("label,prob_fake,pred\n0,0.1,no\n1,0.9,1\n")
    (odd / "trials.csv").write_text(f'number,state,value,intermediate\ninf,COMPLETE,0.5,"[0.5]"\n')
    (odd / "history.json").write_text(NESTED)
    (odd / "importances.json").write_bytes(b'{"learning_rate": 0.5, "\\udcff": 0.5}')
    val = (odd / "val_predictions.csv").read_text().splitlines()
    # One trial's curve is a cell nested 1,500 levels deep: that curve is dropped, not the page.
    make_run(runs_dir, "deep_cell", 1.0, seed=2)
    trials = runs_dir / "deep_cell" / "trials.csv"
    trials.write_text(f'number,state,value,intermediate\n0,COMPLETE,0.5,"[0.5, 0.6]"\n1,PRUNED,,"{NESTED}"\n')

    board = build_leaderboard(runs_dir)
    out = board.write(tmp_path / "index.html")
    assert [row["__model__"] for row in parse_page(out.read_text(encoding="utf-8")).rows] == ["odd", "deep_cell"]
    odd_run = next(r for r in board.runs if r.name == "odd")
    notes = " ".join(odd_run.notes)
    assert "predictions.csv was ignored: pred must be 0 (real) or 1 (fake)" in notes
    assert "trials.csv was ignored: number must be an integer" in notes
    assert "history.json was ignored: history.json is not readable JSON (nested too deeply" in notes
    assert "importances.json was ignored: importances.json holds text that is not valid Unicode" in notes
    assert odd_run.val_predictions is not None and len(odd_run.val_predictions) == len(val) - 1
    deep = next(r for r in board.runs if r.name == "deep_cell")
    assert list(deep.trials["intermediate"]) == [[0.5, 0.6], []]


def test_a_folder_name_that_is_not_utf8_is_shown_replaced(tmp_path):
    runs_dir = tmp_path / "runs"
    make_run(runs_dir, "named", 1.5, seed=1, folder=os.fsdecode(b"bad\xffname"))
    metrics = json.loads((runs_dir / os.fsdecode(b"bad\xffname") / "metrics.json").read_text())
    del metrics["model"]  # the page then names the run after its folder
    (runs_dir / os.fsdecode(b"bad\xffname") / "metrics.json").write_text(json.dumps(metrics))
    (runs_dir / os.fsdecode(b"broken\xfe")).mkdir()

    html_text = write_leaderboard(runs_dir, tmp_path / "index.html").read_text(encoding="utf-8")
    page = parse_page(html_text)
    assert [row["__model__"] for row in page.rows] == ["bad\ufffdname"]
    assert "broken\ufffd" in " ".join(page.text)


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(list(argv)))


def test_a_missing_runs_folder_is_an_error_and_keeps_the_old_page(tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    make_run(runs_dir, "good_model", 1.5, seed=1)
    out = tmp_path / "index.html"
    assert _cli("--runs", str(runs_dir), "--out", str(out)) == 0
    good_page = out.read_bytes()
    capsys.readouterr()

    assert _cli("--runs", str(tmp_path / "runz"), "--out", str(out)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("deepfake-zoo leaderboard: error: ")
    assert f"the runs folder {tmp_path / 'runz'} does not exist" in captured.err
    assert out.read_bytes() == good_page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html", "runs"]  # no temporary left behind

    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_leaderboard(tmp_path / "runz", out)
    assert out.read_bytes() == good_page


def test_runs_given_as_a_file_is_an_error(tmp_path, capsys):
    not_a_folder = tmp_path / "runs.txt"
    not_a_folder.write_text("x")
    assert _cli("--runs", str(not_a_folder), "--out", str(tmp_path / "index.html")) == 2
    assert "is a file, not a folder of runs" in capsys.readouterr().err
    assert not (tmp_path / "index.html").exists()
