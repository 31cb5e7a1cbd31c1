"""Workers that open one empty storage at the same moment all get it: the schema creation is serialised.

Without the lock, four processes released together on an empty database lost the race in 5 of 5 rounds on
PostgreSQL (`duplicate key ... pg_type_typname_nsp_index`, as CI once did) and 4 of 5 on SQLite
(`UNIQUE constraint failed: alembic_version.version_num`).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
import sqlalchemy

from deepfake_zoo.search import storage as storage_module
from deepfake_zoo.search.storage import StorageLockTimeout, open_storage

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4
ROUNDS = 3

# Each child imports first, says it is ready, then waits for one shared "go": the opens overlap as closely as
# processes can make them, which is what a fleet of workers started by one script does.
CHILD = """
import sys, time
from pathlib import Path
from deepfake_zoo.search.storage import open_storage
url, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
ready.touch()
while not go.exists():
    time.sleep(0.001)
open_storage(url, heartbeat=30)
"""


def open_together(url: str, folder: Path) -> list[tuple[int, str]]:
    folder.mkdir(parents=True)
    go = folder / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [subprocess.Popen([sys.executable, "-c", CHILD, url, str(folder / f"ready-{i}"), str(go)], env=env,
                                 stderr=subprocess.PIPE, text=True) for i in range(WORKERS)]
    deadline = time.time() + 120
    while len(list(folder.glob("ready-*"))) < WORKERS:
        assert time.time() < deadline and all(c.poll() is None for c in children), "a worker died before the start"
        time.sleep(0.01)
    go.touch()
    return [(c.wait(timeout=120), c.stderr.read()) for c in children]


def assert_all_opened(url: str, results: list[tuple[int, str]]) -> None:
    for code, err in results:
        assert code == 0, err[-1500:]
    # The schema they built together is whole: a study can be created and read back.
    study = optuna.create_study(storage=url, study_name="after-the-race")
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    assert len(optuna.load_study(study_name="after-the-race", storage=url).trials) == 2


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_workers_opening_one_new_sqlite_file_together_all_succeed(tmp_path, round_):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    assert_all_opened(url, open_together(url, tmp_path / "sync"))


@pytest.fixture
def fresh_database(postgres_url):
    """A new, empty database on the test server, dropped afterwards."""
    server = sqlalchemy.engine.make_url(postgres_url)
    admin = sqlalchemy.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"dfz_race_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_workers_opening_one_new_postgresql_database_together_all_succeed(fresh_database, tmp_path, round_):
    assert_all_opened(fresh_database, open_together(fresh_database, tmp_path / "sync"))


@pytest.mark.postgres
def test_a_wedged_peer_gives_a_clear_error_without_the_password(fresh_database, monkeypatch):
    monkeypatch.setattr(storage_module, "LOCK_TIMEOUT_S", 1)
    url = sqlalchemy.engine.make_url(fresh_database).set(password="s3cret-pw").render_as_string(hide_password=False)
    holder = sqlalchemy.create_engine(fresh_database)
    with holder.begin() as connection:
        connection.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"),
                           {"key": storage_module._ADVISORY_KEY})
        started = time.monotonic()
        with pytest.raises(StorageLockTimeout, match="held the Optuna schema lock") as caught:
            open_storage(url, heartbeat=30)
        assert 0.9 < time.monotonic() - started < 30
    holder.dispose()
    assert "s3cret-pw" not in str(caught.value)
    # Once the peer lets go, the same call opens the storage.
    assert isinstance(open_storage(url, heartbeat=30), optuna.storages.RDBStorage)
