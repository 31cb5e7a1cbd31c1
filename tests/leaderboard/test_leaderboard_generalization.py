"""Generalization, robustness, calibration and cost on the page: the matrix of models x evaluation sets and its
cross-set mean (also a ranking key), the validation-test gap flag, the Pareto front, what each figure says it was
measured on, and hostile versions of the new files as listed notes."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from deepfake_zoo.leaderboard.figures import pareto_front
from deepfake_zoo.leaderboard.render import build_leaderboard
from deepfake_zoo.runfiles import CROSS_MEAN_KEY, add_cross_mean, rank_key, read_metrics
from leaderboard_fixtures import EVIL_NAME, make_run, parse_page, write_cost, write_external, write_fixture_runs

HOLDOUT = "mobilenet_v2_frozen-holdout-deepfake-faces"
NESTED = "[" * 1500 + "]" * 1500


class MatrixParser(HTMLParser):
    """table#generalization as (header texts, {model: [cell text, ...]}), each cell's text joined by spaces."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[str] = []
        self.rows: dict[str, list[str]] = {}
        self.styles: dict[str, list[str]] = {}
        self._in, self._cell, self._model, self._text = False, None, None, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "generalization":
            self._in = True
        if not self._in:
            return
        if tag == "tr" and "data-model" in attrs:
            self._model = attrs["data-model"]
            self.rows[self._model], self.styles[self._model] = [], []
        if tag in ("td", "th"):
            self._cell, self._text = tag, []
            if tag == "td":
                self.styles[self._model].append(attrs.get("style") or "")

    def handle_endtag(self, tag):
        if tag == "table" and self._in:
            self._in = False
        if self._in and tag in ("td", "th") and self._cell:
            text = " ".join(t.strip() for t in self._text if t.strip())
            if tag == "td":
                self.rows[self._model].append(text)
            elif self._model is None:
                self.headers.append(text)
            self._cell = None

    def handle_data(self, data):
        if self._in and self._cell:
            self._text.append(data)


def _matrix(html: str) -> MatrixParser:
    parser = MatrixParser()
    parser.feed(html)
    return parser


def _figures(html: str) -> dict:
    body = re.search(r'<script type="application/json" id="figure-data">(.*?)</script>', html, re.S).group(1)
    return json.loads(body)


@pytest.fixture
def runs_dir(tmp_path):
    """The fixture runs plus a cross-source run holding out deepfake-faces, also scored on the external set."""
    runs = tmp_path / "runs"
    write_fixture_runs(runs)
    holdout = {"deepfake-faces": {"roc_auc": 0.61, "accuracy": 0.57, "eer": 0.42, "average_precision": 0.6,
                                  "f1": 0.5, "n": 120}}
    make_run(runs, HOLDOUT, 1.6, seed=5, eval_sources=("real-and-fake-face",), train_sources=("real-and-fake-face",),
             holdout=holdout)
    write_external(runs / HOLDOUT, "gan-faces", 0.70, 80)
    return runs


def test_the_matrix_shows_every_set_with_n_and_the_mean_over_the_sets_not_in_domain(runs_dir):
    board = build_leaderboard(runs_dir)
    matrix = _matrix(board.html)
    assert matrix.headers == ["model", "in-domain test split", "external gan-faces", "held-out deepfake-faces",
                              "mean not in-domain"]
    metrics = {r.name: r.metrics for r in board.runs}
    holdout_test = f"{metrics[HOLDOUT]['roc_auc']:.3f} n = {metrics[HOLDOUT]['n_test']}"
    assert matrix.rows[HOLDOUT] == [holdout_test, "0.700 n = 80", "0.610 n = 120", "0.655"]
    mobilenet = metrics["mobilenet_v2_frozen"]
    assert matrix.rows["mobilenet_v2_frozen"] == [f"{mobilenet['roc_auc']:.3f} n = 60", "0.550 n = 80",
                                                  "not measured", "0.550"]
    assert matrix.rows["cnn"][1:] == ["not measured"] * 3
    # Coloured by ROC AUC: a better cell is darker; an unmeasured one has no colour.
    light = [float(re.search(r"hsl\(210,65%,(\d+)%", s).group(1)) for s in matrix.styles[HOLDOUT][:3]]
    assert light[0] < light[1] < light[2]
    assert matrix.styles["cnn"][1] == ""


def test_ranking_by_the_cross_set_mean_puts_unmeasured_runs_last(runs_dir):
    board = build_leaderboard(runs_dir, rank_by=CROSS_MEAN_KEY)
    order = [r.name for r in board.runs]
    assert order[:2] == [HOLDOUT, "mobilenet_v2_frozen"]
    assert set(order[2:]) == {"cnn", EVIL_NAME}
    page = parse_page(board.html)
    assert "over the external sets and held-out sources (not in-domain)" in " ".join(page.text)
    assert [float(row[CROSS_MEAN_KEY]) for row in page.rows[:2]] == pytest.approx([0.655, 0.55])
    # The same rule for every reader (predict ranks with rank_key after add_cross_mean).
    metrics = read_metrics(runs_dir / HOLDOUT)
    add_cross_mean(runs_dir / HOLDOUT, metrics)
    assert rank_key(metrics, CROSS_MEAN_KEY, HOLDOUT) == (0, pytest.approx(-0.655), HOLDOUT)


def test_predict_ranks_by_the_cross_set_mean_as_the_page_does(runs_dir):
    from deepfake_zoo.predict.models import Run, rank_runs

    folders = ["cnn", "evil", HOLDOUT, "mobilenet_v2_frozen"]
    runs = [Run(name=f, path=runs_dir / f, threshold=0.5, image_size=32, metrics=read_metrics(runs_dir / f))
            for f in folders]
    ranked = [run.name for run in rank_runs(runs, CROSS_MEAN_KEY)]
    page = [r.folder.name for r in build_leaderboard(runs_dir, rank_by=CROSS_MEAN_KEY).runs]
    assert ranked == page == [HOLDOUT, "mobilenet_v2_frozen", "cnn", "evil"]


def test_ranking_by_the_cross_set_mean_without_any_says_how_to_get_one(tmp_path):
    make_run(tmp_path / "runs", "cnn", 1.0, seed=1)
    with pytest.raises(ValueError, match="deepfake-zoo evaluate DATA"):
        build_leaderboard(tmp_path / "runs", rank_by=CROSS_MEAN_KEY)


def test_without_any_set_beyond_the_test_split_the_section_says_not_measured(tmp_path):
    make_run(tmp_path / "runs", "cnn", 1.0, seed=1)
    html = build_leaderboard(tmp_path / "runs").html
    text = " ".join(parse_page(html).text)
    assert 'id="generalization"' not in html
    assert "Not measured: no run has results beyond its own test split" in text
    assert "Robustness not measured for cnn" in text and "Latency not measured for cnn" in text
    assert "Not shown (file missing or unreadable):" in text and "reliability diagram" in text


def test_a_validation_auc_well_above_test_is_flagged(tmp_path):
    runs = tmp_path / "runs"
    for name, gap in (("leaky", 0.08), ("honest", 0.03), ("worse_on_val", -0.2)):
        make_run(runs, name, 1.0, seed=1)
        metrics = json.loads((runs / name / "metrics.json").read_text())
        metrics["validation"]["roc_auc"] = metrics["roc_auc"] + gap
        (runs / name / "metrics.json").write_text(json.dumps(metrics))
    html = build_leaderboard(runs).html
    cells = dict(re.findall(r'<tr data-model="([^"]+)".*?<td data-key="val_test_gap" data-sort="[^"]*">(.*?)</td>',
                            html, re.S))
    assert "selection?" in cells["leaky"] and "+0.080" in cells["leaky"]
    assert "selection?" not in cells["honest"] and "+0.030" in cells["honest"]
    assert "selection?" not in cells["worse_on_val"]
    rows = {row["__model__"]: row for row in parse_page(html).rows}
    assert float(rows["leaky"]["validation.roc_auc"]) - float(rows["leaky"]["roc_auc"]) == pytest.approx(0.08)


def test_the_page_ranks_by_validation_by_default_and_the_test_columns_only_report(tmp_path):
    runs = tmp_path / "runs"
    for name, val in (("best_on_test", 0.70), ("best_on_val", 0.95)):
        make_run(runs, name, 1.0 if name == "best_on_test" else 0.5, seed=1)
        metrics = json.loads((runs / name / "metrics.json").read_text())
        metrics["validation"]["roc_auc"] = val
        (runs / name / "metrics.json").write_text(json.dumps(metrics))
    by_test = [r.name for r in build_leaderboard(runs, "roc_auc").runs]
    assert by_test == ["best_on_test", "best_on_val"]
    board = build_leaderboard(runs)
    assert board.rank_by == "validation.roc_auc" and [r.name for r in board.runs] == ["best_on_val", "best_on_test"]
    assert "ranked by <strong>validation ROC AUC</strong> (higher is better) on the validation split" in board.html


def test_pareto_front_keeps_only_the_models_nobody_beats_on_both():
    points = {"fast_weak": (1.0, 0.70), "slow_strong": (20.0, 0.90), "beaten": (25.0, 0.80),
              "tie_slower": (1.0 + 1e-9, 0.70), "middle": (5.0, 0.85), "equal_twin": (5.0, 0.85)}
    assert pareto_front(points) == {"fast_weak", "slow_strong", "middle", "equal_twin"}
    assert pareto_front({}) == set()


def test_the_pareto_plot_marks_the_front_and_says_how_latency_was_measured(runs_dir):
    write_cost(runs_dir / "evil", 30.0)  # slower and worse than mobilenet_v2_frozen
    html = build_leaderboard(runs_dir).html
    traces = {t["name"]: t for t in _figures(html)["fig-compare-pareto"]["data"]}
    assert sorted(traces["on the front (nobody faster and better)"]["text"]) == ["cnn", "mobilenet_v2_frozen"]
    assert traces["beaten on both by another"]["text"] == ["&lt;img src=x onerror=alert(1)&gt;"]
    assert "median CPU time per image at batch 1 over 50 runs (cost.json)" in html


def test_one_robustness_plot_per_perturbation_with_a_line_per_measured_model(runs_dir):
    board = build_leaderboard(runs_dir)
    figs = _figures(board.html)
    robust = {k: v for k, v in figs.items() if k.startswith("fig-robustness-")}
    assert sorted(robust) == ["fig-robustness-1-jpeg", "fig-robustness-2-blur", "fig-robustness-3-downscale",
                              "fig-robustness-4-noise"]
    jpeg = robust["fig-robustness-1-jpeg"]
    assert [t["name"] for t in jpeg["data"]] == ["mobilenet_v2_frozen (n = 60)", "cnn (n = 50)"]
    stored = json.loads((runs_dir / "cnn" / "robustness.json").read_text())
    assert jpeg["data"][1]["y"] == [stored["clean"]["roc_auc"]] + stored["perturbations"]["jpeg"]["roc_auc"]
    assert jpeg["data"][1]["x"] == ["clean", "quality 90", "quality 70", "quality 50", "quality 30"]
    text = " ".join(parse_page(board.html).text)
    assert ("Measured on the test split (n = 50, 60 images per model), each image perturbed before the training "
            "resize") in text
    sentence = re.search(r"Robustness not measured for (.+?) \(no usable robustness.json", text).group(1)
    assert sorted(sentence.split(", ")) == sorted([EVIL_NAME, HOLDOUT])


def test_reliability_diagram_shows_ece_before_and_after_in_the_legend(runs_dir):
    board = build_leaderboard(runs_dir)
    run = next(r for r in board.runs if r.name == "mobilenet_v2_frozen")
    block = run.metrics["calibration"]
    fig = next(v for k, v in _figures(board.html).items() if k.endswith("-calibration"))
    names = [t["name"] for t in fig["data"]]
    assert names == ["perfectly calibrated", f"raw P(fake), ECE {block['ece_before']:.3f}",
                     f"temperature-scaled (T = 1.70), ECE {block['ece_after']:.3f}"]
    text = " ".join(parse_page(board.html).text)
    assert f"ECE {block['ece_before']:.3f} → {block['ece_after']:.3f}" in text
    assert "12.00 ms per image (CPU, batch 1, median); 333 images/s at batch 32" in text
    assert "deepfake-faces (never in training or validation)" in text  # the held-out run's facts
    shown = [b for b in block["reliability_before"] if b["n"]]
    assert fig["data"][1]["x"] == pytest.approx([b["mean_prob"] for b in shown])
    assert sum(1 for k in _figures(board.html) if k.endswith("-calibration")) == 1


def test_every_figure_says_what_data_it_was_measured_on(runs_dir):
    html = build_leaderboard(runs_dir).html
    boxes = re.findall(r'<div class="plot-box[^"]*"><div class="plot" id="([^"]+)"[^>]*></div>(.*?)</div>', html)
    assert len(boxes) == len(_figures(html)) > 30
    missing = [fig_id for fig_id, rest in boxes if 'class="caption"' not in rest]
    assert missing == []
    captions = dict((fig_id, re.sub("<[^>]+>", "", rest)) for fig_id, rest in boxes)
    calibration = next(v for k, v in captions.items() if k.endswith("-calibration"))
    assert "test split (n = 60), 15 equal-width bins; temperature fitted on the validation split (n = 40)" \
        in calibration
    confusion = [v for k, v in captions.items() if k.endswith("-confusion")]
    assert all("test split (n = " in c for c in confusion)
    assert "held-out" in html and "the model's own test split" in html


# file under the run folder -> (its content, words of the note)
HOSTILE_FILES = {
    "robustness not an object": ("robustness.json", b"[1, 2]", "robustness.json was ignored: holds a list"),
    "robustness perturbations text": ("robustness.json", b'{"perturbations": "jpeg"}', "perturbations is not"),
    "robustness NaN AUC": ("robustness.json", b'{"perturbations": {"jpeg": {"levels": [90], "roc_auc": [NaN]}}}',
                           "has a roc_auc that is not a number"),
    "robustness lengths differ": ("robustness.json", b'{"perturbations": {"jpeg": {"levels": [90, 70], '
                                                     b'"roc_auc": [0.8]}}}', "of the same length"),
    "robustness nested": ("robustness.json", NESTED.encode(), "nested too deeply"),
    "robustness huge": ("robustness.json", b'{"n": "' + b"x" * (9 * 1024 * 1024) + b'"}', "more than the"),
    "cost latency text": ("cost.json", b'{"latency_ms_per_image": "fast"}', "not a number"),
    "cost latency negative": ("cost.json", b'{"latency_ms_per_image": -3}', "not a positive number"),
    "cost infinite": ("cost.json", b'{"latency_ms_per_image": Infinity}', "is inf, not a number"),
    "external AUC NaN": ("external/gan/metrics.json", b'{"roc_auc": NaN, "n": 5}',
                         "external/gan/metrics.json was ignored: external/gan/metrics.json field roc_auc is nan"),
    "external a list": ("external/gan/metrics.json", b"[]", "holds a list, not an object"),
    "external nested": ("external/gan/metrics.json", NESTED.encode(), "nested too deeply"),
    "external not UTF-8": ("external/gan/metrics.json", b'{"data": "caf\xe9"}', "not readable JSON"),
}


@pytest.mark.parametrize("case", list(HOSTILE_FILES))
def test_a_hostile_new_file_is_a_listed_note_and_the_run_still_shows(tmp_path, case):
    name, content, note = HOSTILE_FILES[case]
    runs = tmp_path / "runs"
    make_run(runs, "victim", 1.5, seed=1)
    path = runs / "victim" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    board = build_leaderboard(runs)
    (run,) = board.runs
    assert any(note in n for n in run.notes), run.notes
    page = parse_page(board.html)
    assert [row["__model__"] for row in page.rows] == ["victim"]
    assert any(note in t for t in page.text)


HOSTILE_METRICS = {
    "calibration a list": ({"calibration": [1]}, "metrics.json calibration was ignored: it is a list"),
    "calibration NaN ECE": ({"calibration": {"ece_before": float("nan"), "reliability_before": []}},
                            "ece_before is nan, not a number"),
    "reliability bins of text": ({"calibration": {"reliability_after": ["x"]}}, "is not a list of at most"),
    "reliability huge": ({"calibration": {"reliability_after": [{"n": 1}] * 5000}}, "is not a list of at most"),
    "holdout a list": ({"holdout": [0.6]}, "metrics.json holdout was ignored"),
    "holdout AUC text": ({"holdout": {"faces": {"roc_auc": "high"}}}, "holdout['faces'] field roc_auc is 'high'"),
}


@pytest.mark.parametrize("case", list(HOSTILE_METRICS))
def test_a_hostile_calibration_or_holdout_block_is_a_note_not_a_skip(tmp_path, case):
    fields, note = HOSTILE_METRICS[case]
    runs = tmp_path / "runs"
    make_run(runs, "victim", 1.5, seed=1)
    metrics = json.loads((runs / "victim" / "metrics.json").read_text())
    metrics.update(fields)
    (runs / "victim" / "metrics.json").write_text(json.dumps(metrics))
    board = build_leaderboard(runs)
    assert board.skipped == []
    (run,) = board.runs
    assert any(note in n for n in run.notes), run.notes
    assert run.value(CROSS_MEAN_KEY) is None


def test_files_written_by_the_real_writers_are_read_without_notes(tmp_path):
    """Guards the contract: calibration and robustness as search writes them, external metrics with the keys of
    `evaluate` (the leaderboard itself imports neither)."""
    import numpy as np
    import pandas as pd

    from deepfake_zoo.search.calibration import calibration_block
    from deepfake_zoo.search.metrics import evaluate_predictions
    from deepfake_zoo.search.robustness import PERTURBATIONS, robustness_report

    runs = tmp_path / "runs"
    make_run(runs, "real_writers", 1.2, seed=4)
    folder = runs / "real_writers"
    val, test = pd.read_csv(folder / "val_predictions.csv"), pd.read_csv(folder / "predictions.csv")
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics.update(calibration_block(val["label"], val["prob_fake"], test["label"], test["prob_fake"]))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    rng = np.random.default_rng(0)
    scores = {"clean": test["prob_fake"].to_numpy()}
    for kind, (_, levels) in PERTURBATIONS.items():
        for level in levels:
            scores[f"{kind}/{level:g}"] = np.clip(scores["clean"] + rng.normal(0, 0.2, len(test)), 0, 1)
    report = robustness_report(scores, test["label"].to_numpy(), 0.5)
    (folder / "robustness.json").write_text(json.dumps({"split": "test", "n": len(test), **report}))
    external = evaluate_predictions(test, 0.5)
    write_external(folder, "placeholder", 0.5, 10)  # then replaced by evaluate's own keys
    (folder / "external" / "placeholder" / "metrics.json").write_text(json.dumps(
        {"name": "placeholder", **external, "data": {"path": "/x", "kind": "csv"}, "skips": {}}))

    board = build_leaderboard(runs)
    (run,) = board.runs
    assert run.notes == []
    assert run.calibration and run.calibration["reliability_after"]
    assert sorted(run.robustness["perturbations"]) == sorted(PERTURBATIONS)
    assert run.value(CROSS_MEAN_KEY) == pytest.approx(external["roc_auc"])
