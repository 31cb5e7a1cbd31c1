"""Many workers, one study: a killed worker loses only its running trial; two workers add distinct trials."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def search_command(manifest: Path, tmp: Path, storage: str, trials: int, study: str) -> list[str]:
    # The real command a user runs, on the tiny demo manifest at 32px with the notebook's CNN.
    return [sys.executable, "-m", "deepfake_zoo.cli", "search", "--model", "cnn", "--image-size", "32",
            "--manifest", str(manifest), "--runs", str(tmp / "runs"), "--cache-dir", str(tmp / "features"),
            "--trials", str(trials), "--epochs", "2", "--storage", storage, "--study", study, "--seed", "0"]


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}


def states(storage: str, study: str) -> list[tuple[int, TrialState]]:
    try:
        loaded = optuna.load_study(study_name=study, storage=storage)
    except KeyError:
        return []
    return [(t.number, t.state) for t in loaded.trials]


def test_killed_worker_loses_only_its_running_trial(demo_manifest, tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    worker = subprocess.Popen(search_command(demo_manifest, tmp_path, storage, 3, "resume"), env=env(),
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    # Kill it (SIGKILL: no cleanup at all) while a trial runs, after at least one trial has completed.
    while time.time() < deadline:
        seen = states(storage, "resume")
        if any(s == TrialState.COMPLETE for _, s in seen) and any(s == TrialState.RUNNING for _, s in seen):
            break
        assert worker.poll() is None, "the worker finished before it could be killed mid-trial"
        time.sleep(0.5)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    before = {n for n, s in states(storage, "resume") if s == TrialState.COMPLETE}
    assert before

    rerun = subprocess.run(search_command(demo_manifest, tmp_path, storage, 3, "resume"), env=env(),
                           cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "resuming study 'resume'" in rerun.stdout
    after = states(storage, "resume")
    complete = {n for n, s in after if s == TrialState.COMPLETE}
    assert len(complete) == 3 and before <= complete
    # The trial the kill interrupted is failed on resume, not left RUNNING until a heartbeat expires.
    assert not [n for n, s in after if s == TrialState.RUNNING]
    assert (tmp_path / "runs" / "_studies" / "cnn" / "resume" / "checkpoints").is_dir()
    assert (tmp_path / "runs" / "cnn" / "metrics.json").is_file()
    # The command refreshes the leaderboard after the search, from the results folder alone.
    page = (tmp_path / "leaderboard" / "index.html").read_text()
    assert "cnn" in page and "Ranking" in page


def two_workers(demo_manifest: Path, tmp_path: Path, storage: str, study: str) -> None:
    command = search_command(demo_manifest, tmp_path, storage, 4, study)
    workers = [subprocess.Popen(command, env=env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
               for _ in range(2)]
    outputs = [w.communicate(timeout=900) for w in workers]
    for w, (out, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-2000:]
    trials = states(storage, study)
    numbers = [n for n, _ in trials]
    assert len(numbers) == len(set(numbers))
    finished = [n for n, s in trials if s in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert not [n for n, s in trials if s == TrialState.FAIL]
    # Each worker stops once the study holds 4 finished trials; one may finish a trial it had already started.
    assert 4 <= len(finished) <= 5
    # Both workers really contributed trials to the one study.
    assert all("] trial " in out for out, _ in outputs)


def test_two_workers_share_one_sqlite_study(demo_manifest, tmp_path):
    two_workers(demo_manifest, tmp_path, f"sqlite:///{tmp_path / 'optuna.db'}", "shared")


@pytest.mark.postgres
def test_two_workers_share_one_postgresql_study(demo_manifest, tmp_path, postgres_url):
    study = f"shared-{os.getpid()}-{int(time.time())}"
    two_workers(demo_manifest, tmp_path, postgres_url, study)
