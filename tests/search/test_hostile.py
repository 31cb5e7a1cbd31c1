"""Hostile input and faults against `search` (issue 13): each ends in one clear line, a true count, or kept work."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from deepfake_zoo.cli import main
from deepfake_zoo.search import rundir
from deepfake_zoo.search import study as study_module
from deepfake_zoo.search.results import TrialRecord, write_results
from deepfake_zoo.search.storage import StorageUnavailableError, open_storage
from deepfake_zoo.search.study import (TrialSeededSampler, WORKER_ATTR, prepare, run_model_search, run_search,
                                       this_worker)

QUIET = dict(log=lambda _: None)


# --- fast: no training -------------------------------------------------------------------------------------------

def test_failed_trials_are_counted(tmp_path):
    frame = pd.DataFrame({"path": ["a", "b", "c", "d"], "source": ["s"] * 4, "label": [0, 1, 0, 1]})
    scores = np.array([0.1, 0.9, 0.2, 0.8])
    trials = [TrialRecord(0, "COMPLETE", 0.9, 1.0, {}), TrialRecord(1, "FAIL", None, 1.0, {}),
              TrialRecord(2, "PRUNED", 0.5, 1.0, {}), TrialRecord(3, "FAIL", None, 1.0, {})]
    metrics = write_results(tmp_path, info={}, val_frame=frame, val_scores=scores, test_frame=frame,
                            test_scores=scores, trials=trials, importances={}, history={})
    assert metrics["trials"] == {"complete": 1, "pruned": 1, "failed": 2}


@pytest.mark.parametrize("url, says", [
    ("notaurl", "not a database URL"),
    ("mysql://user:hunter2@127.0.0.1/db", "driver is not installed"),
    ("postgresql://user:hunter2@127.0.0.1:1/db", ""),
])
def test_a_bad_storage_is_one_line_without_the_password(url, says):
    with pytest.raises(StorageUnavailableError) as caught:
        open_storage(url, heartbeat=30)
    message = str(caught.value)
    assert says in message and "hunter2" not in message and "\n" not in message
    assert message.startswith("cannot open the Optuna storage")


def test_a_bad_storage_fails_before_any_data_is_read(config_for, tmp_path):
    # The manifest does not exist: reading it first would fail on the manifest, not on the storage.
    config = config_for(model="tiny_search_frozen", storage="postgresql://user:hunter2@127.0.0.1:1/db",
                        manifest=str(tmp_path / "missing.csv"))
    with pytest.raises(StorageUnavailableError):
        run_search(config, **QUIET)


def _params(study: optuna.Study) -> list[tuple]:
    return [tuple(sorted(t.params.items())) for t in study.trials]


def _ask(study: optuna.Study) -> None:
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    trial.suggest_int("n", 0, 1000)
    study.tell(trial, 0.5)


def test_workers_and_resumes_with_one_seed_sample_new_points_reproducibly():
    storage = optuna.storages.InMemoryStorage()
    # Two workers on one study, both seeded 0, taking turns; then a resumed worker with a fresh sampler.
    first = optuna.create_study(study_name="s", storage=storage, sampler=TrialSeededSampler(0))
    second = optuna.load_study(study_name="s", storage=storage, sampler=TrialSeededSampler(0))
    for _ in range(2):
        _ask(first)
        _ask(second)
    resumed = optuna.load_study(study_name="s", storage=storage, sampler=TrialSeededSampler(0))
    _ask(resumed)
    _ask(resumed)
    points = _params(resumed)
    assert len(set(points)) == len(points) == 6

    # The same study run again from its seed proposes the same points.
    again = optuna.create_study(storage=optuna.storages.InMemoryStorage(), sampler=TrialSeededSampler(0))
    for _ in range(6):
        _ask(again)
    assert _params(again) == points


# --- slow: tiny trainings ----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_resumed_search_explores_new_configurations_and_records_their_seed(config_for):
    run_model_search("tiny_search_frozen", config_for(model="tiny_search_frozen", trials=2, epochs=1), **QUIET)
    config = config_for(model="tiny_search_frozen", trials=4, epochs=1)
    run_model_search("tiny_search_frozen", config, **QUIET)
    study = optuna.load_study(study_name="tiny_search_frozen", storage=config.storage_url())
    points = _params(study)
    assert len(points) == 4 and len(set(points)) == 4
    seeds = [t.user_attrs["sampler_seed"] for t in study.trials]
    assert len(set(seeds)) == 4


@pytest.mark.slow
def test_a_trial_of_a_killed_worker_is_marked_failed_on_resume(config_for):
    config = config_for(model="tiny_search_frozen", trials=1, epochs=1)
    storage = config.storage_url()
    killed = optuna.create_study(study_name="tiny_search_frozen", storage=storage, direction="maximize")
    trial = killed.ask()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    trial.set_user_attr(WORKER_ATTR, {**this_worker(), "pid": gone.pid, "start": None})
    metrics = run_model_search("tiny_search_frozen", config, **QUIET)
    states = [t.state for t in optuna.load_study(study_name="tiny_search_frozen", storage=storage).trials]
    assert TrialState.RUNNING not in states
    assert metrics["trials"] == {"complete": 1, "pruned": 0, "failed": 1}


@pytest.mark.slow
def test_two_studies_of_one_model_keep_their_own_checkpoints(config_for):
    first = config_for(model="tiny_search_frozen", trials=1, epochs=1)
    run_model_search("tiny_search_frozen", first, **QUIET)
    kept = {p: p.read_bytes() for p in first.runs_dir.rglob("*.keras") if p.name != "model.keras"}
    assert kept
    other = config_for(model="tiny_search_frozen", trials=2, epochs=1, image_size=48, study="tiny48")
    run_model_search("tiny_search_frozen", other, **QUIET)
    assert {p: p.read_bytes() for p in kept if p.is_file()} == kept
    # The first study, run again, finalises from its own 32px checkpoint (a 48px one would not fit its features).
    again = run_model_search("tiny_search_frozen", first, **QUIET)
    assert again["image_size"] == 32 and again["study_name"] == "tiny_search_frozen"
    saved = json.loads((first.runs_dir / "tiny_search_frozen" / "metrics.json").read_text())
    assert saved["image_size"] == 32


@pytest.mark.slow
def test_a_finalise_killed_midway_leaves_the_previous_result_whole(config_for, monkeypatch):
    first = config_for(model="tiny_search_frozen", trials=1, epochs=1)
    run_model_search("tiny_search_frozen", first, **QUIET)
    run = first.runs_dir / "tiny_search_frozen"
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}

    def killed(*args, **kwargs):
        raise SystemExit("killed")  # as a SIGKILL would: after the new model is saved, before the metrics

    monkeypatch.setattr(study_module, "measure_images_per_second", killed)
    other = config_for(model="tiny_search_frozen", trials=1, epochs=1, image_size=48, study="tiny48")
    with pytest.raises(SystemExit):
        run_model_search("tiny_search_frozen", other, **QUIET)
    after = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert after == before
    monkeypatch.undo()
    metrics = run_model_search("tiny_search_frozen", other, **QUIET)
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["image_size"] == metrics["image_size"] == 48
    # The swap leaves nothing a reader could take for a run.
    assert sorted(p.name for p in first.runs_dir.iterdir()) == [".staging", "_studies", "optuna.db", "optuna.db.lock",
                                                                "tiny_search_frozen"]
    assert not [p for p in (first.runs_dir / ".staging").iterdir() if p.is_dir()]


@pytest.mark.slow
def test_an_unwritable_run_folder_is_one_line_before_the_first_trial(config_for, caplog):
    config = config_for(model="tiny_search_frozen", trials=1, epochs=1)
    config.runs_dir.mkdir(parents=True)
    (config.runs_dir / "tiny_search_frozen").write_text("a file where the run folder should be")
    with pytest.raises(OSError, match="cannot write to .*tiny_search_frozen"):
        run_model_search("tiny_search_frozen", config, **QUIET)
    assert not optuna.load_study(study_name="tiny_search_frozen", storage=config.storage_url()).trials
    assert "Traceback" not in caplog.text


class InterruptAtTrialOne(optuna.pruners.BasePruner):
    """Ctrl-C, as the user presses it, in the middle of trial 1."""

    def prune(self, study, trial) -> bool:
        if trial.number == 1:
            raise KeyboardInterrupt
        return False


@pytest.mark.slow
def test_ctrl_c_says_what_was_kept_and_exits_130(demo_manifest, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(study_module, "make_pruner", lambda *a: InterruptAtTrialOne())
    code = main(["search", "--model", "tiny_search_frozen", "--manifest", str(demo_manifest),
                 "--runs", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "features"),
                 "--trials", "3", "--epochs", "1"])
    assert code == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = [l for l in err.splitlines() if l.startswith("deepfake-zoo search:")]
    assert len(line) == 1 and "keeps its 1 finished trial(s)" in line[0] and "resume" in line[0]
    storage = f"sqlite:///{(tmp_path / 'runs' / 'optuna.db').resolve()}"
    states = [t.state for t in optuna.load_study(study_name="tiny_search_frozen", storage=storage).trials]
    assert states[0] == TrialState.COMPLETE and TrialState.RUNNING not in states


@pytest.mark.slow
def test_switches_that_cannot_apply_are_said_and_recorded_off(config_for):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU: mixed precision would be used")
    lines = []
    config = config_for(model="tiny_search_frozen", trials=1, epochs=1, mixed_precision=True, xla=True)
    run_model_search("tiny_search_frozen", config, log=lines.append)
    assert any("mixed_precision ignored: no GPU" in line for line in lines)
    assert any("xla ignored" in line for line in lines)
    saved = json.loads((config.runs_dir / "tiny_search_frozen" / "metrics.json").read_text())
    assert saved["mixed_precision"] is False and saved["xla"] is False
    import keras

    assert keras.mixed_precision.global_policy().name == "float32"


def test_the_command_checks_the_storage_before_building_a_manifest(tmp_path, capsys):
    manifest = tmp_path / "build" / "splits.csv"
    code = main(["search", "--model", "tiny_search_frozen", "--manifest", str(manifest), "--runs",
                 str(tmp_path / "runs"), "--storage", "postgresql://user:hunter2@127.0.0.1:1/db"])
    err = capsys.readouterr().err
    assert code == 2 and not manifest.exists()
    assert err.startswith("deepfake-zoo search: error: cannot open the Optuna storage postgresql://user:***@")
    assert "hunter2" not in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_limit_zero_on_the_command_line_is_one_clear_error(tmp_path, capsys):
    code = main(["search", "--limit", "0", "--runs", str(tmp_path / "runs"), "--dry-run",
                 "--manifest", str(tmp_path / "splits.csv"), "--model", "tiny_search_frozen"])
    err = capsys.readouterr().err
    assert code == 2 and "limit: 0 is not allowed" in err and len(err.splitlines()) == 1


@pytest.mark.slow
def test_xla_is_an_opt_in_for_image_trained_models(config_for):
    for xla in (False, True):
        search = prepare("tiny_search_finetune", config_for(xla=xla, dry_run=True), log=lambda _: None,
                         engine="optuna")
        assert search.task.build(search.entry.default_hparams()).jit_compile is xla


def _folder(path, text: str):
    path.mkdir(parents=True)
    (path / "metrics.json").write_text(text)
    (path / "model.keras").write_text(text)


@pytest.mark.parametrize("atomic_exchange", [True, False])
def test_publishing_switches_a_run_folder_whole_or_not_at_all(tmp_path, monkeypatch, atomic_exchange):
    if not atomic_exchange:
        monkeypatch.setattr(rundir, "_exchange", lambda a, b: False)
    _folder(tmp_path / "m", "old")
    with pytest.raises(RuntimeError):
        with rundir.publishing(tmp_path, "m") as staging:
            (staging / "model.keras").write_text("new")
            raise RuntimeError("killed before metrics.json")
    assert {p.name: p.read_text() for p in (tmp_path / "m").iterdir()} == {"metrics.json": "old",
                                                                           "model.keras": "old"}
    with rundir.publishing(tmp_path, "m") as staging:
        for name in ("model.keras", "metrics.json"):
            (staging / name).write_text("new")
    assert {p.name: p.read_text() for p in (tmp_path / "m").iterdir()} == {"metrics.json": "new",
                                                                           "model.keras": "new"}
    assert not [p for p in (tmp_path / rundir.STAGING_DIR).iterdir() if p.is_dir()]


def test_a_kill_between_the_two_renames_is_mended_on_the_next_publish(tmp_path):
    # Without an atomic exchange: the old result was set aside, then the process died before the new one moved in.
    _folder(tmp_path / rundir.STAGING_DIR / "m@abc.old", "old")
    _folder(tmp_path / rundir.STAGING_DIR / "m@abc", "half")
    (tmp_path / rundir.STAGING_DIR / "m@abc" / "metrics.json").unlink()
    rundir.recover(tmp_path, "m")
    assert (tmp_path / "m" / "metrics.json").read_text() == "old"
    assert not [p for p in (tmp_path / rundir.STAGING_DIR).iterdir() if p.is_dir()]


def test_a_swap_that_fails_midway_puts_the_previous_result_back(tmp_path, monkeypatch):
    from deepfake_zoo.search import rundir

    target, new = tmp_path / "cnn", tmp_path / "cnn@new"
    target.mkdir()
    (target / "metrics.json").write_text("old")
    new.mkdir()
    (new / "metrics.json").write_text("new")
    monkeypatch.setattr(rundir, "_exchange", lambda a, b: False)  # the two-rename path, as without renameat2
    real_rename = rundir.os.rename

    def rename(src, dst):
        if Path(src) == new:
            raise OSError(28, "No space left on device")
        return real_rename(src, dst)

    monkeypatch.setattr(rundir.os, "rename", rename)
    with pytest.raises(OSError, match="No space"):
        rundir.swap_in(new, target)
    assert (target / "metrics.json").read_text() == "old"
