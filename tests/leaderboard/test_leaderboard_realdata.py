"""The generalization page from real runs, not fixtures: a leave-one-source-out study of MobileNetV2 (ImageNet
weights) over both shared sources, each run then scored with `evaluate` on a folder copied from real-and-fake-face,
rendered and read back in headless Chromium.

Small on purpose (a seeded sample of each source, one trial, 96px): it checks that real studies produce everything
the page draws, in both directions; the numbers themselves are the benchmark's business.
"""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pandas as pd
import pytest
from browser import CHROMIUM_ARGS, chromium

from deepfake_zoo import cli
from deepfake_zoo.datasets.manifest import load_manifest
from deepfake_zoo.leaderboard.render import write_leaderboard
from deepfake_zoo.search.config import make_config
from deepfake_zoo.search.launch import launch

pytestmark = [pytest.mark.realdata, pytest.mark.slow, pytest.mark.browser]

SOURCES = ("deepfake-faces", "real-and-fake-face")
PER_CELL = 12  # images per (source, split, label): 144 in all
ARTIFACT = Path(__file__).resolve().parents[1] / "artifacts" / "leaderboard-realdata.png"


@pytest.fixture(scope="module")
def small_real_manifest(real_manifest, tmp_path_factory) -> Path:
    """A seeded sample of the real manifest, every (source, split, label) cell kept: a subset of a leakage-free
    split is still leakage-free."""
    manifest, _ = real_manifest
    frame = pd.read_csv(manifest)
    sample = frame.sample(frac=1.0, random_state=0).groupby(["source", "split", "label"]).head(PER_CELL)
    assert set(sample["source"]) == set(SOURCES)
    path = tmp_path_factory.mktemp("small-real") / "splits.csv"
    sample.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def labelled_folder(real_data_root, tmp_path_factory) -> Path:
    """10 seeded images a class from real-and-fake-face's Test split in Real/ and Fake/."""
    source = real_data_root / "real-and-fake-face" / "Dataset" / "Test"
    folder = tmp_path_factory.mktemp("external") / "rff-test"
    rng = random.Random(0)
    for label in ("Real", "Fake"):
        (folder / label).mkdir(parents=True)
        for path in rng.sample(sorted(p for p in (source / label).iterdir() if p.is_file()), 10):
            shutil.copy(path, folder / label / path.name)
    return folder


@pytest.fixture(scope="module")
def real_page(small_real_manifest, labelled_folder, keras_weights_available, tmp_path_factory):
    """Both cross-source runs, evaluated on the external folder, and the page they render loaded in Chromium."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium()
    root = tmp_path_factory.mktemp("loso")
    runs = root / "runs"
    config = make_config({"manifest": str(small_real_manifest), "runs": str(runs), "cache_dir": str(root / "features"),
                          "model": "mobilenet_v2_frozen", "leave_one_source_out": True, "trials": 1, "epochs": 2,
                          "image_size": 96, "augment_views": 1, "robustness_limit": 24, "seed": 0})
    results = launch(config, log=lambda _: None)
    assert cli.main(["evaluate", str(labelled_folder), "--runs", str(runs), "--model", "all"]) == 0
    out = write_leaderboard(runs, root / "index.html")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(out.as_uri(), wait_until="load")
            page.wait_for_function("Array.from(document.querySelectorAll('.plot')).every(d => d.querySelector("
                                   "'.main-svg'))", timeout=90_000)
            ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACT), full_page=True)
            yield page, errors, results, runs
        finally:
            browser.close()


def _matrix(page) -> tuple[list[str], dict[str, list[str]]]:
    headers = page.eval_on_selector_all("#generalization thead th", "ths => ths.map(t => t.textContent.trim())")
    rows = page.eval_on_selector_all(
        "#generalization tbody tr",
        "trs => trs.map(tr => [tr.dataset.model, Array.from(tr.querySelectorAll('td')).map(td => td.textContent)])")
    return headers, dict(rows)


def test_both_directions_of_a_real_leave_one_source_out_fill_the_matrix(real_page, small_real_manifest):
    page, errors, results, runs = real_page
    assert errors == []
    names = {f"mobilenet_v2_frozen-holdout-{source}": source for source in SOURCES}
    assert sorted(results) == sorted(names)
    frame = load_manifest(small_real_manifest)
    headers, shown = _matrix(page)
    # Both runs are model mobilenet_v2_frozen: the page names each by its model and its run folder.
    rows = {name: cells for name in names for label, cells in shown.items() if label == f"mobilenet_v2_frozen ({name})"}
    assert len(shown) == 2 and set(rows) == set(names), list(shown)
    column = {header: i - 1 for i, header in enumerate(headers)}  # the first header is the model column
    for name, held_out in names.items():
        metrics = json.loads((runs / name / "metrics.json").read_text())
        block = metrics["holdout"][held_out]
        assert block["n"] == int(frame["source"].eq(held_out).sum())  # every image of the held-out source
        cell = rows[name][column[f"held-out {held_out}"]]
        assert cell == f"{block['roc_auc']:.3f}n = {block['n']}", cell
        # The other direction's source is not this run's held-out set: its cell says so.
        other = next(source for source in SOURCES if source != held_out)
        assert rows[name][column[f"held-out {other}"]] == "not measured", rows[name]
        external = json.loads((runs / name / "external" / "rff-test" / "metrics.json").read_text())
        assert rows[name][column["external rff-test"]] == f"{external['roc_auc']:.3f}n = {external['n']}"
        mean = (block["roc_auc"] + external["roc_auc"]) / 2
        assert rows[name][-1] == f"{mean:.3f}", rows[name]


def test_real_runs_draw_robustness_reliability_and_pareto_figures(real_page):
    page, _, _, runs = real_page
    for name in ("mobilenet_v2_frozen-holdout-deepfake-faces", "mobilenet_v2_frozen-holdout-real-and-fake-face"):
        assert (runs / name / "robustness.json").is_file() and (runs / name / "cost.json").is_file()
    missing = page.eval_on_selector_all("#robustness p.muted, #cost p.muted", "ps => ps.map(p => p.textContent)")
    assert missing == []
    traces = page.evaluate("() => Array.from(document.querySelectorAll('#robustness .plot')).map(d => d.data.length)")
    assert len(traces) == 4 and all(count == 2 for count in traces), traces  # one line per run, each perturbation
    assert page.eval_on_selector_all("#cost .plot .main-svg", "svgs => svgs.length") >= 1
