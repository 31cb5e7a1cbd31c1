"""Choosing the run: best by a metric, by name, and the errors that say what to do (no TensorFlow needed)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from deepfake_zoo.predict import cli
from deepfake_zoo.predict.models import ModelChoiceError, choose_run, list_runs, rank_runs


@pytest.fixture
def two_runs(tmp_path, make_run):
    runs = tmp_path / "runs"
    make_run(runs, "cnn", image_size=64, threshold=0.41, roc_auc=0.80, eer=0.30)
    make_run(runs, "mobilenet_v2_frozen", image_size=128, threshold=0.55, roc_auc=0.90, eer=0.20)
    return runs


def test_best_run_is_the_highest_roc_auc(two_runs):
    run = choose_run(two_runs)
    assert (run.name, run.threshold, run.image_size) == ("mobilenet_v2_frozen", 0.55, 128)


def test_rank_by_eer_prefers_the_lowest_and_images_per_s_the_highest(tmp_path, make_run):
    runs = tmp_path / "runs"
    make_run(runs, "a", image_size=64, threshold=0.5, roc_auc=0.9, eer=0.25, inference_images_per_s=120.0,
             wall_time_s=900.0)
    make_run(runs, "b", image_size=64, threshold=0.5, roc_auc=0.8, eer=0.15, inference_images_per_s=15.0,
             wall_time_s=60.0)
    assert choose_run(runs, rank_by="eer").name == "b"
    assert choose_run(runs, rank_by="roc_auc").name == "a"
    # A rate ends in _s too: only times (`_time_s`, `duration_s`) rank smallest first.
    assert choose_run(runs, rank_by="inference_images_per_s").name == "a"
    assert choose_run(runs, rank_by="wall_time_s").name == "b"


def test_runs_without_the_metric_rank_last(tmp_path, make_run):
    runs = tmp_path / "runs"
    make_run(runs, "a_no_auc", image_size=64, threshold=0.5)
    make_run(runs, "b", image_size=64, threshold=0.5, roc_auc=0.51)
    assert [r.name for r in rank_runs(list_runs(runs), rank_by="roc_auc")] == ["b", "a_no_auc"]
    with pytest.raises(ModelChoiceError, match="no run in .* has a number at --rank-by 'average_precision'; "
                                               "choose one of: image_size, roc_auc, threshold"):
        choose_run(runs, rank_by="average_precision")


def test_rank_by_reaches_nested_metrics_and_ranks_times_smallest_first(tmp_path, make_run):
    runs = tmp_path / "runs"
    make_run(runs, "a", image_size=64, threshold=0.5, roc_auc=0.9, wall_time_s=300.0,
             validation={"roc_auc": 0.70}, per_source={"faces.v2": {"accuracy": 0.6}})
    make_run(runs, "b", image_size=64, threshold=0.5, roc_auc=0.8, wall_time_s=100.0,
             validation={"roc_auc": 0.75}, per_source={"faces.v2": {"accuracy": 0.7}})
    assert choose_run(runs, rank_by="validation.roc_auc").name == "b"
    assert choose_run(runs, rank_by="wall_time_s").name == "b"
    assert choose_run(runs, rank_by="per_source.faces.v2.accuracy").name == "b"
    assert choose_run(runs, rank_by="roc_auc").name == "a"
    # The default chooses on validation: "a" tests better, but choosing it for that would spend the test split.
    assert choose_run(runs).name == "b"


def test_the_default_falls_back_to_test_only_when_no_run_has_a_validation_score(tmp_path, make_run):
    runs = tmp_path / "runs"
    make_run(runs, "a", image_size=64, threshold=0.5, roc_auc=0.9)
    make_run(runs, "b", image_size=64, threshold=0.5, roc_auc=0.8)
    assert (choose_run(runs).name, choose_run(runs).ranked_by) == ("a", "roc_auc")
    # Asked for by name, validation is not swapped for test: no run has it, and the error says what exists.
    with pytest.raises(ModelChoiceError, match="--rank-by 'validation.roc_auc'"):
        choose_run(runs, rank_by="validation.roc_auc")
    make_run(runs, "c", image_size=64, threshold=0.5, roc_auc=0.7, validation={"roc_auc": 0.6})
    # One validation score is enough: runs without one rank after it.
    assert (choose_run(runs).name, choose_run(runs).ranked_by) == ("c", "validation.roc_auc")


def test_hostile_metrics_are_skipped_and_named_runs_explain(tmp_path, make_run):
    runs = tmp_path / "runs"
    make_run(runs, "good", image_size=64, threshold=0.5, roc_auc=0.7)
    deep = make_run(runs, "deep", image_size=64, threshold=0.5, roc_auc=0.9)
    (deep / "metrics.json").write_text('{"roc_auc": 0.9, "x": ' + "[" * 1500 + "]" * 1500 + "}")
    nan = make_run(runs, "nan_threshold", image_size=64, roc_auc=0.95)
    (nan / "metrics.json").write_text('{"threshold": NaN, "image_size": 64, "roc_auc": 0.95}')
    text = make_run(runs, "text_auc", image_size=64, threshold=0.5, roc_auc="0.99")
    hidden = make_run(runs, ".staging", image_size=64, threshold=0.5, roc_auc=0.99)
    assert hidden.is_dir() and text.is_dir()
    assert [r.name for r in list_runs(runs)] == ["good"]
    assert choose_run(runs).name == "good"
    with pytest.raises(ModelChoiceError, match="metrics.json is not readable JSON .nested too deeply"):
        choose_run(runs, model="deep")
    with pytest.raises(ModelChoiceError, match="field threshold is nan, not a number"):
        choose_run(runs, model="nan_threshold")
    with pytest.raises(ModelChoiceError, match="field roc_auc is '0.99', not a number"):
        choose_run(runs, model="text_auc")


def test_model_flag_picks_the_other_run(two_runs):
    assert choose_run(two_runs, model="cnn").threshold == 0.41


def test_unknown_model_lists_the_available_runs(two_runs):
    with pytest.raises(ModelChoiceError) as info:
        choose_run(two_runs, model="cnnn")
    message = str(info.value)
    assert "unknown model 'cnnn'" in message
    assert "did you mean 'cnn'?" in message
    assert "available runs: cnn, mobilenet_v2_frozen" in message


@pytest.mark.parametrize("make_dir", [True, False])
def test_no_runs_names_the_command_that_trains_one(tmp_path, make_dir):
    runs = tmp_path / "runs"
    if make_dir:
        runs.mkdir()
    with pytest.raises(ModelChoiceError, match=r"`make data` then `make search MODEL=cnn`"):
        choose_run(runs)


def test_half_written_runs_are_skipped_but_named_ones_explain(tmp_path, make_run):
    runs = tmp_path / "runs"
    make_run(runs, "done", image_size=64, threshold=0.5, roc_auc=0.7)
    (runs / "running").mkdir()
    (runs / "running" / "trials.csv").write_text("number,state\n")
    make_run(runs, "no_threshold", image_size=64, roc_auc=0.99)
    assert [r.name for r in list_runs(runs)] == ["done"]
    with pytest.raises(ModelChoiceError, match="needs both model.keras and metrics.json"):
        choose_run(runs, model="running")
    with pytest.raises(ModelChoiceError, match="no decision threshold"):
        choose_run(runs, model="no_threshold")


def test_cli_without_runs_exits_2_with_the_command(tmp_path, capsys):
    image = tmp_path / "face.jpg"
    image.write_bytes(b"never read: there is no model")
    code = cli.main([str(image), "--runs", str(tmp_path / "runs")])
    captured = capsys.readouterr()
    assert code == 2
    assert "`make data` then `make search MODEL=cnn`" in captured.err
    assert captured.out == ""


def test_cli_unknown_model_exits_2_listing_runs(two_runs, capsys):
    assert cli.main(["x.jpg", "--runs", str(two_runs), "--model", "resnet"]) == 2
    assert "available runs: cnn, mobilenet_v2_frozen" in capsys.readouterr().err


def test_cli_usage_errors_exit_2(capsys):
    for argv in ([], ["x.jpg", "--frames", "0"], ["x.jpg", "--json", "--csv"]):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
    capsys.readouterr()


@pytest.mark.slow
def test_a_saved_zoo_model_loads_in_a_fresh_process(tmp_path, make_run):
    # In-process the zoo is usually imported already; only a fresh interpreter shows whether load_model
    # registers the zoo's custom layers itself (it once imported a bare `zoo`, which no longer exists).
    run_dir = make_run(tmp_path / "runs", "zoo_model", image_size=8, threshold=0.5, roc_auc=0.7)
    save = (
        "import keras, sys; from deepfake_zoo.zoo.preprocessing import BackbonePreprocess; "
        "keras.utils.set_random_seed(0); "
        "model = keras.Sequential([keras.Input((8, 8, 3)), BackbonePreprocess('unit'), keras.layers.Flatten(), "
        "keras.layers.Dense(1, activation='sigmoid')]); model.save(sys.argv[1])"
    )
    load = (
        "import sys; from deepfake_zoo.predict.models import choose_run, load_model; "
        "model = load_model(choose_run(sys.argv[1])); print(type(model.layers[0]).__name__)"
    )
    for code, arg in ((save, str(run_dir / "model.keras")), (load, str(tmp_path / "runs"))):
        result = subprocess.run([sys.executable, "-c", code, arg], cwd=tmp_path, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "BackbonePreprocess"
