"""evaluate: trained runs scored on labelled folders and CSVs they never saw, bad input, and the subcommand."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from deepfake_zoo import cli
from deepfake_zoo.datasets.manifest import build_manifest
from deepfake_zoo.predict.evaluate import evaluate_folder, read_labelled, select_runs
from deepfake_zoo.predict.models import ModelChoiceError
from deepfake_zoo.search.calibration import apply_temperature
from deepfake_zoo.search.metrics import binary_metrics
from evaluation_runs import IMAGE_SIZE, demo_folder, write_tiny_run

METRIC_KEYS = set(binary_metrics([0, 1], [0.2, 0.8], 0.5))


def write_image(path: Path, seed: int, size: int = 40, fmt: str = "JPEG", mode: str = "RGB") -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), "RGB").convert(mode).save(path, format=fmt)
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return demo_folder(tmp_path_factory.mktemp("evaluate") / "demo", n_per_class=24)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, demo) -> Path:
    """runs/ with a tiny CNN really trained on the demo, as tiny_a and again as tiny_b (family "tiny")."""
    runs_dir = tmp_path_factory.mktemp("evaluate-runs") / "runs"
    write_tiny_run(runs_dir, "tiny_a", demo, seed=0)
    # One training is enough: the tests need two runs to choose from, not two different models.
    shutil.copytree(runs_dir / "tiny_a", runs_dir / "tiny_b")
    metrics_path = runs_dir / "tiny_b" / "metrics.json"
    metrics_path.write_text(json.dumps({**json.loads(metrics_path.read_text()), "model": "tiny_b"}))
    return runs_dir


@pytest.fixture
def runs(trained, tmp_path) -> Path:
    """This test's own copy of the trained runs, so external/ results never leak between tests."""
    return Path(shutil.copytree(trained, tmp_path / "runs"))


def model_scores(run_dir: Path, paths) -> np.ndarray:
    import keras

    from deepfake_zoo.datasets.images import load_for_model

    model = keras.saving.load_model(run_dir / "model.keras", compile=False)
    return model.predict(np.stack([load_for_model(p, IMAGE_SIZE) for p in paths]), verbose=0)[:, 0]


@pytest.mark.slow
def test_a_folder_is_scored_as_in_training_with_the_validation_threshold(runs, demo):
    results = evaluate_folder(demo, runs=runs, model="tiny_a")

    assert list(results) == ["tiny_a"]
    folder = runs / "tiny_a" / "external" / "demo"
    assert sorted(p.name for p in folder.iterdir()) == ["metrics.json", "predictions.csv"]
    metrics = json.loads((folder / "metrics.json").read_text())
    run_metrics = json.loads((runs / "tiny_a" / "metrics.json").read_text())
    assert METRIC_KEYS <= set(metrics)
    assert (metrics["name"], metrics["model"], metrics["n"], metrics["n_real"], metrics["n_fake"]) == \
        ("demo", "tiny_a", 48, 24, 24)
    assert (metrics["threshold"], metrics["threshold_from"], metrics["temperature"]) == \
        (run_metrics["threshold"], "validation", None)
    assert (metrics["skips"], metrics["n_skipped"]) == ({}, 0)
    assert metrics["data"]["sources"] == {"demo": {"real": 24, "fake": 24}}
    assert metrics["data"]["synthetic"] is True and metrics["data"]["kind"] == "folder"
    assert 0 <= metrics["ece"] <= 1 and 0 <= metrics["brier"] <= 1
    predictions = pd.read_csv(folder / "predictions.csv")
    assert list(predictions.columns) == ["path", "source", "label", "prob_fake", "pred"]
    assert sorted(predictions["path"]) == sorted(str(p) for p in demo.rglob("*.png"))
    np.testing.assert_allclose(predictions["prob_fake"], model_scores(runs / "tiny_a", predictions["path"]),
                               atol=1e-5)
    assert (predictions["pred"] == (predictions["prob_fake"] >= metrics["threshold"])).all()
    assert predictions["label"].tolist() == [int("/Fake/" in p) for p in predictions["path"]]
    expected = binary_metrics(predictions["label"], predictions["prob_fake"], metrics["threshold"])
    assert metrics["confusion_matrix"] == expected.pop("confusion_matrix")
    assert {k: metrics[k] for k in expected} == pytest.approx(expected)


@pytest.mark.slow
def test_bad_files_are_counted_skips_and_convertible_ones_are_scored(runs, tmp_path):
    data = tmp_path / "messy"
    for i in range(3):
        write_image(data / "real" / f"r{i}.jpg", seed=i)
        write_image(data / "FAKE" / f"f{i}.jpg", seed=10 + i)
    write_image(data / "real" / "gray.png", seed=20, fmt="PNG", mode="L")  # converted losslessly, then scored
    (data / "real" / "empty.jpg").write_bytes(b"")
    (data / "real" / "notes.jpg").write_text("not an image")
    whole = (data / "FAKE" / "f0.jpg").read_bytes()
    (data / "FAKE" / "cut.jpg").write_bytes(whole[: len(whole) // 2])

    metrics = evaluate_folder(data, runs=runs, model="tiny_b")["tiny_b"]

    assert (metrics["n"], metrics["n_real"], metrics["n_fake"]) == (7, 4, 3)
    assert metrics["skips"] == {"empty": 1, "not_an_image": 1, "truncated": 1}
    assert metrics["n_skipped"] == 3 and metrics["skip_examples"]["empty"] == [str(data / "real" / "empty.jpg")]
    predictions = pd.read_csv(runs / "tiny_b" / "external" / "messy" / "predictions.csv")
    assert str(data / "real" / "gray.png") in set(predictions["path"])  # the original's path, not the conversion


@pytest.mark.slow
def test_a_csv_takes_relative_paths_word_and_digit_labels_and_counts_bad_rows(runs, demo, tmp_path):
    listing = tmp_path / "lists" / "my-set.csv"
    listing.parent.mkdir()
    real, fake = sorted((demo / "Real").glob("*.png")), sorted((demo / "Fake").glob("*.png"))
    local = tmp_path / "lists" / "local.png"
    shutil.copy(real[2], local)
    listing.write_text("Path, Label\n"
                       f"{real[0]},real\n{fake[0]}, FAKE\n{real[1]},0\n{fake[1]},1\n"
                       "local.png,Real\n"               # relative to the CSV's folder
                       "gone.png,fake\n"                # missing file
                       f"{fake[2]},maybe\n")           # bad label

    metrics = evaluate_folder(listing, runs=runs, model="tiny_a")["tiny_a"]

    assert metrics["name"] == "my-set"
    assert (metrics["n"], metrics["n_real"], metrics["n_fake"]) == (5, 3, 2)
    assert metrics["skips"] == {"bad_label": 1, "missing_file": 1}
    assert metrics["data"]["kind"] == "csv" and metrics["data"]["sources"] == {"my-set": {"real": 3, "fake": 2}}
    predictions = pd.read_csv(runs / "tiny_a" / "external" / "my-set" / "predictions.csv")
    assert dict(zip(predictions["path"], predictions["label"])) == {
        str(real[0]): 0, str(fake[0]): 1, str(real[1]): 0, str(fake[1]): 1, str(local): 0}


@pytest.mark.slow
def test_re_evaluation_replaces_the_old_result_whole_and_calibration_is_applied(runs, demo):
    evaluate_folder(demo, name="again", runs=runs, model="tiny_a")
    folder = runs / "tiny_a" / "external" / "again"
    raw = pd.read_csv(folder / "predictions.csv")
    (folder / "stale.txt").write_text("from an older evaluation")
    metrics_path = runs / "tiny_a" / "metrics.json"
    run_metrics = json.loads(metrics_path.read_text())
    run_metrics["calibration"] = {"temperature": 2.0, "threshold": 0.47}
    metrics_path.write_text(json.dumps(run_metrics))

    metrics = evaluate_folder(demo, name="again", runs=runs, model="tiny_a")["tiny_a"]

    assert sorted(p.name for p in folder.iterdir()) == ["metrics.json", "predictions.csv"]
    assert [p.name for p in folder.parent.iterdir()] == ["again"]  # no half-written or old sibling left behind
    assert (metrics["temperature"], metrics["threshold"], metrics["threshold_from"]) == \
        (2.0, 0.47, "calibrated validation")
    calibrated = pd.read_csv(folder / "predictions.csv")
    np.testing.assert_allclose(calibrated["prob_fake"], apply_temperature(raw["prob_fake"], 2.0), atol=1e-6)
    assert (calibrated["pred"] == (calibrated["prob_fake"] >= 0.47)).all()


def test_runs_are_chosen_by_name_glob_family_or_list(tmp_path, make_run):
    runs_dir = tmp_path / "runs"
    for name, family in (("cnn", "cnn"), ("mobilenet_v2_frozen", "mobilenet"), ("mobilenet_v2_finetune", "mobilenet")):
        make_run(runs_dir, name, family=family, threshold=0.5, image_size=32)

    def names(model):
        return [run.name for run in select_runs(runs_dir, model)]

    assert names("all") == ["cnn", "mobilenet_v2_finetune", "mobilenet_v2_frozen"]
    assert names("*_frozen") == ["mobilenet_v2_frozen"]
    assert names("mobilenet") == ["mobilenet_v2_finetune", "mobilenet_v2_frozen"]
    assert names("cnn, mobilenet_v2_frozen") == ["cnn", "mobilenet_v2_frozen"]
    with pytest.raises(ModelChoiceError, match="did you mean 'cnn'"):
        select_runs(runs_dir, "cnm")
    with pytest.raises(ModelChoiceError, match="no trained model found"):
        select_runs(tmp_path / "nothing", "all")


def one_sentence(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and message
    return message


def test_unusable_data_gets_one_sentence_with_the_fix(tmp_path, make_run):
    runs_dir = tmp_path / "runs"
    make_run(runs_dir, "cnn", threshold=0.5, image_size=32)
    cases = {}
    cases["missing"] = (tmp_path / "nowhere", "does not exist")
    (tmp_path / "empty").mkdir()
    cases["empty"] = (tmp_path / "empty", "is empty: put the images in")
    write_image(tmp_path / "cats" / "kitten" / "a.jpg", seed=0)
    cases["no labels"] = (tmp_path / "cats", "holds no labelled images: expected a folder with Real/ and Fake/")
    (tmp_path / "hollow" / "Real").mkdir(parents=True)
    (tmp_path / "hollow" / "Fake").mkdir()
    cases["empty classes"] = (tmp_path / "hollow", "has no labelled image to score")
    (tmp_path / "a.txt").write_text("path,label\n")
    cases["not csv"] = (tmp_path / "a.txt", "is a file but not a .csv")
    (tmp_path / "blank.csv").write_text("")
    cases["blank csv"] = (tmp_path / "blank.csv", "is empty: write a header line `path,label`")
    (tmp_path / "columns.csv").write_text("file,class\nx.jpg,real\n")
    cases["columns"] = (tmp_path / "columns.csv", r"lacks the column\(s\) \['path', 'label'\]")
    (tmp_path / "header.csv").write_text("path,label\n")
    cases["no rows"] = (tmp_path / "header.csv", "lists no images")
    (tmp_path / "gone.csv").write_text("path,label\nx.jpg,real\ny.jpg,2\n")
    cases["all rows bad"] = (tmp_path / "gone.csv", r"no labelled image to score \(2 skipped: \{'missing_file': 2\}\)")
    for label, (data, pattern) in cases.items():
        with pytest.raises(ValueError) as excinfo:
            evaluate_folder(data, runs=runs_dir)
        assert re.search(pattern, one_sentence(excinfo)), (label, str(excinfo.value))
    write_image(tmp_path / "ok" / "Real" / "a.jpg", seed=1)
    with pytest.raises(ValueError, match="not a plain folder name") as excinfo:
        evaluate_folder(tmp_path / "ok", name="../escape", runs=runs_dir)
    one_sentence(excinfo)


def test_both_kaggle_layouts_and_a_folder_of_datasets_are_read(tmp_path):
    split = tmp_path / "sets" / "split-set" / "Dataset"
    seed = 100
    for part, n in (("Train", 2), ("Validation", 1), ("Test", 3)):
        for label in ("Real", "Fake"):
            for i in range(n):
                seed += 1
                write_image(split / part / label / f"{part}{i}.jpg", seed=seed)
    meta = tmp_path / "sets" / "dfdc"
    write_image(meta / "faces_224" / "r0.jpg", seed=1)
    write_image(meta / "faces_224" / "f0.jpg", seed=2)
    write_image(meta / "faces_224" / "orphan.jpg", seed=3)
    (meta / "metadata.csv").write_text("videoname,label,original\nr0.mp4,REAL,\nf0.mp4,FAKE,r0.mp4\n")

    both = read_labelled(tmp_path / "sets")
    only_meta = read_labelled(meta)

    assert both.kind == "datasets"
    assert both.description["sources"] == {"dfdc": {"real": 1, "fake": 1}, "split-set": {"real": 6, "fake": 6}}
    assert both.description["splits"] == {"none": 2, "test": 6, "train": 4, "val": 2}
    assert both.skips == [("no_metadata_row", str(meta / "faces_224" / "orphan.jpg"))]
    assert only_meta.kind == "metadata"
    assert sorted((i.path.name, i.label) for i in only_meta.items) == [("f0.jpg", 1), ("r0.jpg", 0)]


@pytest.mark.slow
def test_the_subcommand_prints_tables_and_writes_robustness_and_cost(runs, demo, tmp_path, capsys):
    manifest = tmp_path / "build" / "splits.csv"
    build_manifest(demo, manifest, seed=0)

    code = cli.main(["evaluate", str(demo), "--name", "demo-set", "--runs", str(runs), "--model", "tiny_a",
                     "--robustness", "--manifest", str(manifest), "--limit", "4", "--cost"])

    out = capsys.readouterr().out
    assert code == 0
    assert "tiny_a" in out and str(runs / "tiny_a" / "external" / "demo-set") in out
    assert "jpeg" in out and "ROC AUC by quality" in out and "ms/image" in out
    robustness = json.loads((runs / "tiny_a" / "robustness.json").read_text())
    assert robustness["n"] == 4 and robustness["split"] == "test"
    cost = json.loads((runs / "tiny_a" / "cost.json").read_text())
    assert cost["latency_ms_per_image"] > 0 and cost["params_total"] > 0
    assert not (runs / "tiny_b" / "robustness.json").exists()

    # A run trained on another manifest must not be scored on this one's test split.
    metrics_path = runs / "tiny_b" / "metrics.json"
    metrics_path.write_text(json.dumps({**json.loads(metrics_path.read_text()), "manifest_sha256": "0" * 64}))
    assert cli.main(["evaluate", "--runs", str(runs), "--model", "tiny_b", "--robustness", "--manifest",
                     str(manifest)]) == 2
    assert "was trained on another manifest" in capsys.readouterr().err


def test_the_subcommand_refuses_nothing_to_do_unknown_models_and_missing_data(tmp_path, make_run, capsys):
    runs_dir = tmp_path / "runs"
    make_run(runs_dir, "cnn", threshold=0.5, image_size=32)

    assert cli.main(["evaluate", "--runs", str(runs_dir)]) == 2
    assert "nothing to do" in capsys.readouterr().err
    write_image(tmp_path / "data" / "Real" / "a.jpg", seed=0)
    assert cli.main(["evaluate", str(tmp_path / "data"), "--runs", str(runs_dir), "--model", "resnet"]) == 2
    assert "no run in" in capsys.readouterr().err
    assert cli.main(["evaluate", str(tmp_path / "missing"), "--runs", str(runs_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("deepfake-zoo evaluate: error: evaluation data") and "does not exist" in err


def test_robustness_rows_are_the_runs_own_split(tmp_path):
    import pandas as pd

    from deepfake_zoo.predict.evaluate import run_rows
    from deepfake_zoo.predict.models import Run

    frame = pd.DataFrame({"path": [f"/{s}/{i}.png" for s in "ab" for i in range(6)], "label": [0, 1] * 6,
                          "source": ["a"] * 6 + ["b"] * 6, "group": [f"g{i}" for i in range(12)],
                          "split": ["train", "val", "test"] * 4, "sha256": [f"{i:064x}" for i in range(12)]})
    plain = Run("m", tmp_path, 0.5, 32, {"train_sources": ["a", "b"]})
    assert run_rows(plain, frame) is frame
    crossed = Run("m-holdout-b", tmp_path, 0.5, 32, {"holdout_sources": ["b"], "train_sources": ["a"], "seed": 0})
    assert set(run_rows(crossed, frame)["source"]) == {"a"}


def test_a_run_tested_with_tta_flip_is_evaluated_with_it(runs, demo):
    import keras

    from deepfake_zoo.datasets.images import load_for_model

    metrics_path = runs / "tiny_a" / "metrics.json"
    saved = json.loads(metrics_path.read_text())
    metrics_path.write_text(json.dumps({**saved, "tta_flip": True}))
    result = evaluate_folder(demo, name="flipped", model="tiny_a", runs=runs)["tiny_a"]
    assert result["tta_flip"] is True
    pred = pd.read_csv(runs / "tiny_a" / "external" / "flipped" / "predictions.csv")
    model = keras.saving.load_model(runs / "tiny_a" / "model.keras", compile=False)
    images = np.stack([load_for_model(p, saved["image_size"]) for p in pred["path"]])
    both = (model.predict(images, verbose=0)[:, 0] + model.predict(images[:, :, ::-1, :], verbose=0)[:, 0]) / 2
    temperature = (saved.get("calibration") or {}).get("temperature")
    expected = apply_temperature(both, temperature) if temperature else both
    np.testing.assert_allclose(pred["prob_fake"], expected, atol=1e-5)
    assert not np.allclose(both, model.predict(images, verbose=0)[:, 0], atol=1e-5)
