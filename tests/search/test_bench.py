"""The benchmark's plumbing (the measurements themselves run in `make bench`, never in the suite)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from deepfake_zoo.search.bench import in_fresh_process, peak_rss_mb, summary_table


def test_studies_are_measured_in_a_process_of_their_own():
    ballast = bytearray(300 * 2**20)
    ballast[:: 4096] = b"\x01" * len(ballast[:: 4096])  # touch every page: resident, not just reserved
    assert in_fresh_process(os.getpid) != os.getpid()
    # The child reports its own peak, not the 300 MB more this process holds (ru_maxrss would inherit it).
    assert in_fresh_process(peak_rss_mb) < peak_rss_mb() - 200
    del ballast


def test_summary_table_marks_each_target():
    results = {
        "pipeline_vs_backbone": {"augment": "rotation", "image_size": 128, "pipeline_images_per_s": 600.0,
                                 "backbone_images_per_s": 180.0, "ratio": 600 / 180, "met": True},
        "study_warm": {"trials": 30, "limit": None, "cache": "warm", "wall_time_s": 330.0, "target_s": 300,
                       "met": False, "test_roc_auc": 0.86, "test_accuracy": 0.78,
                       "trial_counts": {"complete": 9, "pruned": 21, "failed": 0},
                       "peak_rss_mb": {"trial_5": 2000.0, "trial_30": 2020.0, "growth": 0.01, "met": True},
                       "rss_mb": {"trial_5": 1500.0, "trial_30": 1530.0, "growth": 0.02, "met": True}},
    }
    lines = summary_table(results).splitlines()
    assert lines[0].startswith("| measurement") and len(lines) == 2 + 3
    assert "600 vs 180 img/s = 3.3x" in lines[2] and lines[2].endswith("| yes |")
    assert "5.5 min" in lines[3] and lines[3].endswith("| **no** |")
    assert "+1.0% (resident now: 1500 vs 1530 MB = +2.0%)" in lines[4] and lines[4].endswith("| yes |")
    # A flat peak does not hide resident growth: memory kept after each trial fails the row too.
    results["study_warm"]["rss_mb"] = {"trial_5": 1500.0, "trial_30": 1740.0, "growth": 0.16, "met": False}
    assert summary_table(results).splitlines()[4].endswith("| **no** |")


def test_summary_table_reports_the_trunk_rows_against_both_targets():
    trunk = {"blocks_trained": 2, "images_train": 2000, "images_val": 2000, "epochs": 4, "image_size": 128,
             "trunk_trial_s": 40.0, "image_trial_s": 300.0, "speedup": 7.5, "one_time_trunk_pass_s": 45.0,
             "val_roc_auc_trunk": 0.801, "val_roc_auc_images": 0.815, "val_auc_gap": -0.014, "met": False,
             "seeds": 3}
    study = {"model": "mobilenet_v2_finetune", "trials": 20, "limit": None, "cache": "cold", "trunk_cache": True,
             "wall_time_s": 3000.0, "target_s": 3600, "met": True, "test_roc_auc": 0.9, "test_accuracy": 0.8,
             "trial_counts": {"complete": 8, "pruned": 12, "failed": 0},
             "peak_rss_mb": {"trial_5": 3000.0, "trial_20": 3000.0, "growth": 0.0, "met": True},
             "rss_mb": {"trial_5": 2500.0, "trial_20": 2600.0, "growth": 0.04, "met": True}}
    lines = summary_table({"trunk_speedup": trunk, "study_trunk": study}).splitlines()
    assert len(lines) == 2 + 3
    # Fast enough but the AUC moved by more than 0.01: the row is not met.
    assert "40 s vs 300 s = 7.5x" in lines[2] and "(-0.0140)" in lines[2] and lines[2].endswith("| **no** |")
    assert "cached trunk vs images (mean of 3 seeds)" in lines[2]
    assert "20-trial MobileNetV2 cached-trunk fine-tune study on all the real data" in lines[3]
    assert "50.0 min" in lines[3] and "<= 60 min" in lines[3] and lines[3].endswith("| yes |")
    assert "trial 20 (cold trunk study)" in lines[4] and lines[4].endswith("| yes |")


def test_the_best_model_row_is_chosen_on_validation_and_held_to_both_targets():
    def study(val, auc, acc, **extra):
        return {"model": "m", "trials": 20, "limit": None, "cache": "cold", "wall_time_s": 60.0, "target_s": 1800,
                "met": True, "validation_roc_auc": val, "test_roc_auc": auc, "test_accuracy": acc,
                "trial_counts": {"complete": 5, "pruned": 15, "failed": 0}, **extra}

    results = {"study_cold": study(0.905, 0.900, 0.813),
               "study_trunk": study(0.850, 0.950, 0.900, model="t", trunk_cache=True)}
    best = summary_table(results).splitlines()[-1]
    # The trunk study tests better, but validation chose the frozen one, and it misses both targets.
    assert "m: test ROC AUC 0.900, accuracy 0.813 (validation 0.905)" in best and best.endswith("| **no** |")
    results["study_trunk"]["validation_roc_auc"] = 0.91
    assert summary_table(results).splitlines()[-1].startswith("| best single model")
    assert "t: test ROC AUC 0.950" in summary_table(results).splitlines()[-1]
    assert summary_table(results).splitlines()[-1].endswith("| yes |")
    # AUC alone is not enough: accuracy has a target of its own.
    results["study_trunk"]["test_accuracy"] = 0.849
    assert summary_table(results).splitlines()[-1].endswith("| **no** |")
    # A study on a sample of the data is not a model trained on the shared data.
    assert "best single model" not in summary_table({"study_cold": study(0.9, 0.95, 0.9, limit=300)})


CHILD_WRITES_PID = """
import sys
from deepfake_zoo.search.bench import in_fresh_process
from tests_bench_helper import record_pid_and_wait
in_fresh_process(record_pid_and_wait, sys.argv[1])
"""


def test_a_stopped_bench_leaves_no_orphan(tmp_path):
    """Killing `make bench` mid-study must also end the study's process, or it would skew every later measurement."""
    (tmp_path / "tests_bench_helper.py").write_text(
        "import os, time\nfrom pathlib import Path\n"
        "def record_pid_and_wait(path):\n"
        "    Path(path).write_text(str(os.getpid()))\n"
        "    time.sleep(120)\n")
    pid_file = tmp_path / "child.pid"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path.cwd()),
                                                       os.environ.get("PYTHONPATH", "")])}
    parent = subprocess.Popen([sys.executable, "-c", CHILD_WRITES_PID, str(pid_file)], env=env)
    try:
        deadline = time.monotonic() + 120
        while not pid_file.is_file() or not pid_file.read_text():
            assert time.monotonic() < deadline and parent.poll() is None, "the child never started"
            time.sleep(0.2)
        child = int(pid_file.read_text())
        parent.kill()  # SIGKILL: the parent gets no chance to clean up
        parent.wait()
        deadline = time.monotonic() + 20
        while _alive(child):
            assert time.monotonic() < deadline, f"child {child} outlived its killed parent"
            time.sleep(0.2)
    finally:
        parent.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead: it waits only for its (re)parent to reap it.
    status = Path(f"/proc/{pid}/stat")
    return status.is_file() and status.read_text().split()[2] != "Z"


def test_results_name_no_path_of_the_machine(demo_manifest):
    from deepfake_zoo.search.bench import _manifest_summary

    summary = _manifest_summary(demo_manifest)
    assert summary["rows"] == summary["train"] + summary["val"] + summary["test"] > 0
    assert str(demo_manifest.parent) not in json.dumps(summary)
    # The committed results too: every string in them is free of an absolute path.
    committed = Path(__file__).resolve().parents[2] / "bench" / "results.json"
    strings = re.findall(r'"((?:[^"\\]|\\.)*)"', committed.read_text())
    assert [s for s in strings if s.startswith("/") or re.match(r"[A-Za-z]:\\", s)] == []


def test_qualities_and_speedups_are_cut_down_never_rounded_up():
    from deepfake_zoo.search.bench import down

    assert down(0.83977, 3) == "0.839" and down(5.908, 1) == "5.9" and down(0.7995, 2) == "0.79"
    assert down(0.75, 2) == "0.75" and down(121.9, 0) == "121"


def test_the_best_model_step_searches_each_size_with_the_flip_and_ensembles_them(config_for):
    """The step's plumbing on the tiny model and demo data: one study per size, then their ensemble, all reported."""
    from deepfake_zoo.search.bench import bench_best_model

    config = config_for(model="tiny_search_frozen")
    result = bench_best_model(config, trials=1, epochs=1, sizes=(32, 48), model="tiny_search_frozen")
    runs = Path(config.runs) / "best-model"
    names = ["tiny_search_frozen-32px", "tiny_search_frozen-48px"]
    assert [m["model"] for m in result["members"]] == names
    assert [m["image_size"] for m in result["members"]] == [32, 48]
    for name in names:
        metrics = json.loads((runs / name / "metrics.json").read_text())
        assert metrics["tta_flip"] is True and metrics["epochs"] == 1
        assert result["members"][names.index(name)]["test_roc_auc"] == metrics["roc_auc"]
    ensemble = json.loads((runs / "ensemble" / "metrics.json").read_text())
    assert sorted(result["ensemble"]["members"]) == names and ensemble["image_size"] == 48
    assert result["ensemble"]["test_accuracy"] == ensemble["accuracy"]
    assert result["ensemble"]["validation_roc_auc"] == ensemble["validation"]["roc_auc"]


def test_the_best_model_rows_hold_the_members_and_the_ensemble_to_the_target():
    def member(name, val, auc, acc):
        return {"model": name, "image_size": 128, "validation_roc_auc": val, "test_roc_auc": auc,
                "test_accuracy": acc}

    results = {"best_model": {
        "sizes": [128, 224], "trials": 20, "epochs": 16, "limit": None, "wall_time_s": 1800.0,
        "members": [member("m-128px", 0.918, 0.918, 0.835), member("m-224px", 0.91, 0.93, 0.86)],
        "ensemble": {"validation_roc_auc": 0.930, "test_roc_auc": 0.9279, "test_accuracy": 0.8520}}}
    single, ensemble = summary_table(results).splitlines()[-2:]
    # Validation picks the 128px member although the 224px one tests better.
    assert single.startswith("| best single model") and "m-128px: test ROC AUC 0.918, accuracy 0.835" in single
    assert single.endswith("| **no** |")
    assert "ensemble of the 128px and 224px" in ensemble and "test ROC AUC 0.927, accuracy 0.852" in ensemble
    assert "30.0 min" in ensemble and ensemble.endswith("| yes |")
    results["best_model"]["ensemble"]["test_accuracy"] = 0.8499
    assert summary_table(results).splitlines()[-1].endswith("| **no** |")
    # A study row competes on its final model's validation score, the measure the members report, not its best
    # trial's.
    results["study_warm"] = {"model": "warm", "trials": 30, "limit": None, "cache": "warm", "wall_time_s": 60.0,
                             "target_s": 300, "met": True, "validation_roc_auc": 0.93,
                             "final_validation_roc_auc": 0.90, "test_roc_auc": 0.99, "test_accuracy": 0.99,
                             "trial_counts": {"complete": 5, "pruned": 25, "failed": 0}}
    assert "m-128px: test ROC AUC 0.918" in summary_table(results).splitlines()[-2]
    del results["study_warm"]
    # On a sample of the data it is a check of the step, not a model trained on the shared data.
    results["best_model"]["limit"] = 300
    assert "ensemble of" not in summary_table(results) and "best single model" not in summary_table(results)
