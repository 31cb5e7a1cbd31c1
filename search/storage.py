"""Opening one Optuna storage from many workers at once.

Optuna's RDBStorage creates its schema on first use with SQLAlchemy's check-then-create, which is not safe when
two workers start together on an empty database: both see no table, both issue CREATE, and the loser dies with
`duplicate key value violates unique constraint "pg_type_typname_nsp_index"` (then the version row and the alembic
stamp race the same way). So the opening is serialised per database: a transaction-level advisory lock on
PostgreSQL, an exclusive file lock beside an SQLite file. Once the schema exists the lock is held for a few
milliseconds. Other RDB backends open unlocked: start one worker first and the rest once it has begun its trials.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
from pathlib import Path
from typing import Iterator

import optuna
import sqlalchemy
from sqlalchemy.pool import NullPool

# A fixed 64-bit key: every deepfake-zoo worker contends for the same advisory lock, and no other application's.
_ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"deepfake-zoo: optuna schema").digest()[:8], "big", signed=True)
LOCK_TIMEOUT_S = 120
_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a lock_timeout that expired


class StorageLockTimeout(RuntimeError):
    """Another worker held the schema lock for longer than LOCK_TIMEOUT_S."""


class StorageUnavailableError(RuntimeError):
    """The storage URL cannot be parsed, its driver is missing, or its database cannot be reached."""


def safe_url(url: str) -> str:
    """`url` with any password replaced by ***, for messages (works on URLs SQLAlchemy cannot parse, too)."""
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", url)


def open_storage(url: str, heartbeat: int) -> optuna.storages.RDBStorage:
    """An RDB storage with heartbeats (a worker killed mid-trial leaves a FAIL, not a stuck RUNNING, trial), safe to
    open from any number of workers at the same moment.

    Raises StorageUnavailableError, one line without the password, when the URL is invalid, its driver is not
    installed or the database does not answer.
    """
    try:
        sqlite = sqlalchemy.engine.make_url(url).get_backend_name() == "sqlite"
        engine_kwargs = {"connect_args": {"timeout": 120}} if sqlite else {"pool_pre_ping": True}
        with schema_lock(url):
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat,
                                              grace_period=heartbeat * 2)
    except StorageLockTimeout:
        raise
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError) as err:
        raise StorageUnavailableError(
            f"cannot open the Optuna storage {safe_url(url)}: {_reason(err, url)}; pass --storage a reachable URL "
            f"such as sqlite:///runs/optuna.db or postgresql://USER:PASSWORD@HOST/DB") from None


def _reason(err: BaseException, url: str) -> str:
    if isinstance(err, ImportError):
        return f"its database driver is not installed ({err.name or err})"
    if isinstance(err, sqlalchemy.exc.ArgumentError):
        return "not a database URL"
    original = getattr(err, "orig", None) or err
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    reason = lines[0] if lines else type(original).__name__
    password = _password(url)
    return reason.replace(password, "***") if password else reason


def _password(url: str) -> str | None:
    try:
        return sqlalchemy.engine.make_url(url).password
    except sqlalchemy.exc.ArgumentError:
        return None


@contextlib.contextmanager
def schema_lock(url: str) -> Iterator[None]:
    """Held while a storage at `url` is opened; serialises workers opening the same database."""
    parsed = sqlalchemy.engine.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        with _postgresql_lock(url):
            yield
    elif backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        with _file_lock(Path(parsed.database + ".lock")):
            yield
    else:
        yield


@contextlib.contextmanager
def _postgresql_lock(url: str) -> Iterator[None]:
    # NullPool: the lock's connection is closed on exit, not parked in a pool for the life of the worker.
    engine = sqlalchemy.create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            # lock_timeout bounds the wait for an advisory lock too, so a wedged peer gives an error, not a hang.
            connection.execute(sqlalchemy.text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_S}s'"))
            try:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_KEY})
            except sqlalchemy.exc.OperationalError as error:
                if getattr(error.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                    raise
                raise StorageLockTimeout(
                    f"another worker held the Optuna schema lock on {engine.url.render_as_string()} for over "
                    f"{LOCK_TIMEOUT_S} s") from error
            yield  # released when this transaction ends
    finally:
        engine.dispose()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
