"""The leaderboard page built from fixture result folders: ranking, numbers, plots, escaping and broken runs."""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plotly.offline import get_plotlyjs

from deepfake_zoo import runfiles
from deepfake_zoo.leaderboard import cli, figures, render
from deepfake_zoo.leaderboard.render import anchor, build_leaderboard, rank_runs, write_leaderboard
from deepfake_zoo.leaderboard.runs import load_runs
from deepfake_zoo.predict.models import choose_run, list_runs
from deepfake_zoo.predict.models import rank_runs as predict_rank_runs
from deepfake_zoo.search.metrics import binary_metrics
from leaderboard_fixtures import EVIL_NAME, EVIL_SOURCE, make_run, parse_page

REPO = Path(__file__).resolve().parents[2]


def figure_data(html_text: str) -> dict:
    """The JSON block the page hands to Plotly.newPlot, as the browser's JSON.parse would read it."""
    match = re.search(r'<script type="application/json" id="figure-data">(.*?)</script>', html_text, re.S)
    assert match, "the page has no figure-data block"
    return json.loads(match.group(1))


def test_one_row_per_model_ranked_with_the_fixture_numbers(fixture_runs, tmp_path):
    runs_dir, metrics = fixture_runs
    out = write_leaderboard(runs_dir, tmp_path / "site" / "index.html")
    page = parse_page(out.read_text(encoding="utf-8"))
    assert [row["__model__"] for row in page.rows] == ["mobilenet_v2_frozen", "cnn", EVIL_NAME]
    aucs = [float(row["roc_auc"]) for row in page.rows]
    assert aucs == sorted(aucs, reverse=True)
    for row in page.rows:
        expected = metrics[row["__model__"]]
        for key in ("accuracy", "roc_auc", "eer", "f1", "average_precision", "wall_time_s",
                    "inference_images_per_s", "params_total", "image_size"):
            assert float(row[key]) == pytest.approx(expected[key], abs=1e-12), (row["__model__"], key)
        assert float(row["trials"]) == expected["trials"]["complete"]
    weights = {row["__model__"]: row["weights"] for row in page.rows}
    assert weights == {"mobilenet_v2_frozen": "ImageNet (pretrained)", "cnn": "none (random init)",
                       EVIL_NAME: "none (random init)"}
    text = " ".join(page.text)
    assert "synthetic data" in text and "learning_rate" in text


@pytest.mark.parametrize("rank_by, reverse", [("eer", False), ("accuracy", True), ("wall_time_s", False),
                                              ("inference_images_per_s", True), ("params_trainable", False),
                                              ("per_source.deepfake-faces.roc_auc", True)])
def test_ranking_follows_the_chosen_metric_and_its_direction(fixture_runs, rank_by, reverse):
    runs_dir, metrics = fixture_runs
    board = build_leaderboard(runs_dir, rank_by)
    values = [board.runs[i].value(rank_by) for i in range(len(board.runs))]
    assert values == sorted(values, reverse=reverse)
    expected = sorted(metrics, key=lambda m: board.runs[[r.name for r in board.runs].index(m)].value(rank_by))
    assert [r.name for r in board.runs] == (expected[::-1] if reverse else expected)
    rows = parse_page(board.html).rows
    assert [row["__model__"] for row in rows] == [r.name for r in board.runs]
    assert [int(row["rank"]) for row in rows] == [1, 2, 3]
    # The ranking metric is always a column, even a nested one the default table does not show.
    assert [float(row[rank_by]) for row in rows] == values


def test_unknown_rank_key_is_a_clear_error(fixture_runs):
    runs_dir, _ = fixture_runs
    with pytest.raises(ValueError, match="no run has a number at --rank-by 'val_nonsense'.*roc_auc"):
        build_leaderboard(runs_dir, "val_nonsense")


def test_confusion_matrix_per_model_sums_to_the_test_size(fixture_runs):
    runs_dir, metrics = fixture_runs
    board = build_leaderboard(runs_dir)
    figs = figure_data(board.html)
    assert sum(k.endswith("-confusion") for k in figs) == len(board.runs) == 3
    for i, run in enumerate(board.runs):
        counts, rates = (trace["z"] for trace in figs[f"fig-{anchor(i, run.name)}-confusion"]["data"])
        assert sum(map(sum, counts)) == metrics[run.name]["n_test"] == len(run.predictions)
        labels, preds = run.predictions["label"], run.predictions["pred"]
        assert counts == [[int(((labels == t) & (preds == p)).sum()) for p in (0, 1)] for t in (0, 1)]
        assert np.allclose(np.sum(rates, axis=1), 1.0)


def test_every_plot_for_a_complete_run_and_the_comparison_views(fixture_runs):
    runs_dir, _ = fixture_runs
    board = build_leaderboard(runs_dir)
    figs = figure_data(board.html)
    assert set(board.figure_ids) == set(figs)
    for kind in ("confusion", "roc", "scores", "sources", "history", "trials", "importances", "training"):
        assert sum(k.startswith("fig-model-") and k.endswith(f"-{kind}") for k in figs) == 3, kind
    assert {"fig-compare-accuracy", "fig-compare-roc", "fig-compare-cross"} <= set(figs)
    # The 70% target is drawn on the accuracy chart.
    shapes = figs["fig-compare-accuracy"]["layout"]["shapes"]
    assert any(s.get("y0") == pytest.approx(0.70) and s.get("y1") == pytest.approx(0.70) for s in shapes)
    # Cross-dataset matrix: rows are train sources joined with "+", columns the per_source keys, escaped.
    auc = figs["fig-compare-cross"]["data"][0]
    escaped_source = "&lt;script&gt;alert('src')&lt;/script&gt;"
    assert auc["y"] == ["deepfake-faces+real-and-fake-face", "deepfake-faces", escaped_source]
    assert sorted(auc["x"]) == sorted(["deepfake-faces", "real-and-fake-face", escaped_source])


def test_plotly_is_inlined_once_and_nothing_is_fetched(fixture_runs):
    runs_dir, _ = fixture_runs
    html_text = build_leaderboard(runs_dir).html
    assert html_text.count("plotly.js v") == 1
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", html_text, re.I)
    assert html_text.count("<script") == 3  # plotly.js, the figure JSON, the sort/draw script


def test_names_from_runs_are_escaped_everywhere(fixture_runs):
    runs_dir, _ = fixture_runs
    html_text = build_leaderboard(runs_dir).html
    assert EVIL_NAME not in html_text and EVIL_SOURCE not in html_text
    assert "&lt;img src=x onerror=alert(1)&gt;" in html_text
    # Plotly draws the escaped text literally: the raw tag never reaches its JSON either.
    assert "<img" not in json.dumps(figure_data(html_text))
    assert "&lt;img src=x onerror=alert(1)&gt;" in json.dumps(figure_data(html_text))


def test_broken_and_partial_runs_are_noted_not_fatal(fixture_runs):
    runs_dir, _ = fixture_runs
    partial = runs_dir / "partial"
    make_run(runs_dir, "partial_model", 1.0, seed=4, folder="partial")
    for name in ("predictions.csv", "val_predictions.csv", "importances.json"):
        (partial / name).unlink()
    (partial / "history.json").write_text("[1, 2")
    (partial / "trials.csv").write_text("number,state\n0,COMPLETE\n")
    (runs_dir / "unfinished").mkdir()
    wrong = runs_dir / "wrong_types"
    make_run(runs_dir, "wrong", 1.0, seed=5, folder="wrong_types")
    data = json.loads((wrong / "metrics.json").read_text())
    data["accuracy"] = "high"
    (wrong / "metrics.json").write_text(json.dumps(data))

    board = build_leaderboard(runs_dir)
    assert {s.folder.name for s in board.skipped} == {"broken", "unfinished", "wrong_types"}
    page = parse_page(board.html)
    text = " ".join(page.text)
    assert "3 run folders skipped" in text
    assert "metrics.json is not readable JSON" in text and "no metrics.json" in text
    assert "metrics.json field accuracy is 'high', not a number" in text
    assert "partial_model" in [row["__model__"] for row in page.rows]
    run = next(r for r in board.runs if r.name == "partial_model")
    assert run.predictions is None and run.history is None and run.trials is None
    assert any("history.json was ignored" in n for n in run.notes)
    assert any("trials.csv was ignored: lacks the column(s) value" in n for n in run.notes)
    ids = [k for k in board.figure_ids if "partial-model" in k]
    assert [k.rsplit("-", 1)[1] for k in ids] == ["confusion", "sources"]
    assert "Not shown (file missing or unreadable): ROC curve, score histogram" in text


def test_empty_runs_folder_explains_how_to_get_results(tmp_path):
    # A runs folder that does not exist is an error, not an empty page (test_leaderboard_hostile.py).
    for runs_dir in (tmp_path,):
        out = write_leaderboard(runs_dir, tmp_path / "index.html")
        html_text = out.read_text(encoding="utf-8")
        assert "make data" in html_text and "make search MODEL=cnn" in html_text
        assert "plotly.js v" not in html_text
        assert parse_page(html_text).rows == []


def test_load_runs_reads_the_design_formats(fixture_runs):
    runs_dir, metrics = fixture_runs
    runs, skipped = load_runs(runs_dir)
    assert [s.folder.name for s in skipped] == ["broken"]
    by_name = {r.name: r for r in runs}
    assert set(by_name) == set(metrics)
    cnn = by_name["cnn"]
    assert list(cnn.trials["state"]) == ["COMPLETE", "PRUNED", "COMPLETE", "PRUNED", "COMPLETE", "COMPLETE"]
    assert all(isinstance(v, list) and v for v in cnn.trials["intermediate"])
    assert cnn.importances == {"learning_rate": 0.7, "head_units": 0.3}
    assert set(cnn.history) == {"loss", "val_loss", "val_roc_auc"}
    assert cnn.value("per_source.deepfake-faces.accuracy") == metrics["cnn"]["per_source"]["deepfake-faces"]["accuracy"]
    assert isinstance(cnn.predictions, pd.DataFrame) and len(cnn.predictions) == metrics["cnn"]["n_test"]


def test_cli_writes_the_page_and_rejects_an_unknown_metric(fixture_runs, tmp_path, capsys):
    runs_dir, _ = fixture_runs
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert parser.parse_args([]).runs == "runs" and parser.parse_args([]).rank_by is None  # the default rule
    out = tmp_path / "page.html"
    assert cli.run(parser.parse_args(["--runs", str(runs_dir), "--out", str(out), "--rank-by", "f1"])) == 0
    assert out.is_file() and "3 model(s) ranked by F1, 1 run folder(s) skipped" in capsys.readouterr().out
    assert cli.run(parser.parse_args(["--runs", str(runs_dir), "--out", str(out), "--rank-by", "nope"])) == 2
    assert "--rank-by 'nope'" in capsys.readouterr().err
    assert "runs/" in (cli.__doc__ or "")


def test_leaderboard_never_imports_the_training_side(tmp_path):
    code = ("import sys, deepfake_zoo.leaderboard.cli, deepfake_zoo.leaderboard.render; "
            "bad = [m for m in ('tensorflow', 'keras', 'deepfake_zoo.zoo', 'deepfake_zoo.search', "
            "'deepfake_zoo.datasets') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    # Run outside the checkout, so the installed namespace is what gets imported.
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def _numeric_keys(node: dict, prefix: str = "") -> list[str]:
    """Every dotted key of a metrics dict that reaches a number (what --rank-by accepts)."""
    keys = []
    for key, value in node.items():
        if isinstance(value, dict):
            keys += _numeric_keys(value, f"{prefix}{key}.")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            keys.append(f"{prefix}{key}")
    return keys


def test_predict_and_the_page_rank_every_metric_the_same_way(fixture_runs):
    runs_dir, metrics = fixture_runs
    for folder in runs_dir.iterdir():  # predict only considers runs with a model
        (folder / "model.keras").write_bytes(b"never loaded")
    keys = sorted({key for m in metrics.values() for key in _numeric_keys(m)})
    assert {"inference_images_per_s", "wall_time_s", "eer", "validation.eer", "trials.failed",
            f"per_source.{EVIL_SOURCE}.accuracy"} <= set(keys)
    page_runs, _ = load_runs(runs_dir)
    predict_runs = list_runs(runs_dir)
    for key in keys:
        page_order = [run.folder.name for run in rank_runs(page_runs, key)]
        assert [run.path.name for run in predict_rank_runs(predict_runs, key)] == page_order, key
        assert choose_run(runs_dir, rank_by=key).path.name == page_order[0], key
    # The fastest model is the best by images/s in both (predict once counted any key ending in _s as a time).
    fastest = max(metrics, key=lambda m: metrics[m]["inference_images_per_s"])
    board = build_leaderboard(runs_dir, "inference_images_per_s")
    assert parse_page(board.html).rows[0]["__model__"] == board.runs[0].name == fastest
    assert choose_run(runs_dir, rank_by="inference_images_per_s").metrics["model"] == fastest


def test_the_roc_plot_marks_the_eer_that_metrics_json_reports(tmp_path):
    # A curve where the nearest ROC vertex (0.243) and the interpolated crossing (0.286) disagree.
    labels = np.array([0] * 7 + [1] * 5)
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.35, 0.55, 0.65, 0.8, 0.9])
    written = binary_metrics(labels, scores, threshold=0.5)  # what search writes into metrics.json
    folder = tmp_path / "runs" / "eer_model"
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"model": "eer_model", "threshold": 0.5, **written}))
    pd.DataFrame({"label": labels, "prob_fake": scores}).to_csv(folder / "predictions.csv", index=False)
    assert written["eer"] == pytest.approx(2 / 7)

    board = build_leaderboard(tmp_path / "runs")
    roc = figure_data(board.html)[f"fig-{anchor(0, 'eer_model')}-roc"]
    marker = next(trace for trace in roc["data"] if trace["name"].startswith("EER"))
    assert marker["name"] == f"EER ≈ {written['eer']:.3f}" == "EER ≈ 0.286"
    assert marker["x"] == [pytest.approx(written["eer"])] and marker["y"] == [pytest.approx(1 - written["eer"])]


def test_the_accuracy_target_is_one_number_never_written_literally(fixture_runs, monkeypatch):
    runs_dir, metrics = fixture_runs
    assert render.ACCURACY_TARGET is figures.ACCURACY_TARGET is runfiles.ACCURACY_TARGET == 0.70
    assert render.ACCURACY_TARGET_TEXT is figures.ACCURACY_TARGET_TEXT is runfiles.ACCURACY_TARGET_TEXT == "70%"
    # With another target every verdict, sentence and line follows it: no "70%" is left over in the page.
    for module in (render, figures):
        monkeypatch.setattr(module, "ACCURACY_TARGET", 0.9)
        monkeypatch.setattr(module, "ACCURACY_TARGET_TEXT", "90%")
    html_text = build_leaderboard(runs_dir).html
    assert "70%" not in html_text.replace(get_plotlyjs(), "")
    assert "Accuracy is green when it meets the notebook's 90% target" in html_text
    assert "90% accuracy target" in json.dumps(figure_data(html_text))
    shapes = figure_data(html_text)["fig-compare-accuracy"]["layout"]["shapes"]
    assert any(s.get("y0") == pytest.approx(0.9) for s in shapes)
    verdicts = re.findall(r'class="acc (meets|below)"', html_text)
    assert verdicts == ["meets" if metrics[m]["accuracy"] >= 0.9 else "below"
                        for m in ["mobilenet_v2_frozen", "cnn", EVIL_NAME]]
