"""Database engine and sessions for one process, and the declarative base.

Application code never commits: a request dependency, a job wrapper or a CLI command opens
`session_scope()`, which commits at the edge or rolls back on error.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from robocall.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware timestamp stored in UTC; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: robocall stores only aware times")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        # SQLite keeps no zone: values were written in UTC.
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime()}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_lock = threading.Lock()
_engine: Engine | None = None
_sessionmaker: sessionmaker[Session] | None = None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Several processes (web, worker, scheduler) share the file: wait for locks, do not fail.
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# How long a transaction waits for another process's write lock before it fails, and how
# often it looks (seconds). SQLite's own busy handler sleeps in growing steps up to 100 ms:
# with several processes writing short transactions (webhooks, scheduler, workers), those
# sleeps, not the work, would set the pace.
WRITE_LOCK_TIMEOUT = 30.0
WRITE_LOCK_POLL = (0.0002, 0.002)  # first and longest pause between tries


class WriterBusy(Exception):
    """Another writer holds SQLite's write lock and this transaction chose not to wait."""


# Set while a transaction must take the write lock at once or not at all (`without_waiting`).
_never_wait: ContextVar[bool] = ContextVar("robocall_never_wait", default=False)


@contextmanager
def without_waiting() -> Iterator[None]:
    """SQLite transactions begun in this block raise WriterBusy instead of waiting their turn.

    For code that must not block where it runs (an event loop): it tries, and if another
    writer is busy it hands its work to a thread that may wait.
    """
    token = _never_wait.set(True)
    try:
        yield
    finally:
        _never_wait.reset(token)


class WriterGate:
    """One write transaction at a time per process on SQLite, waited for without polling.

    SQLite lets one connection write at a time; a writer that finds the lock taken can only
    try again (take_sqlite_write_lock). With many threads in one process (a worker dialling
    several calls at once, the webhooks), that polling costs more CPU than the work. So the
    threads of a process queue here first, asleep, and only the one at the front polls
    SQLite, against the other processes. Held from BEGIN to COMMIT or ROLLBACK.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder: int | None = None  # id() of the DB-API connection in a transaction

    @staticmethod
    def _key(dbapi_connection: Any) -> int:
        # The dialect is handed the pool's proxy of the connection, the begin event the
        # driver's connection itself: both name the same one.
        return id(getattr(dbapi_connection, "driver_connection", dbapi_connection))

    def enter(self, dbapi_connection: Any, deadline: float) -> None:
        if self._holder == self._key(dbapi_connection):
            return
        if _never_wait.get():
            if not self._lock.acquire(blocking=False):
                raise WriterBusy("another thread of this process is writing")
        elif not self._lock.acquire(timeout=max(deadline - time.monotonic(), 0)):
            raise OperationalError(
                "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
            )
        self._holder = self._key(dbapi_connection)

    def leave(self, dbapi_connection: Any) -> None:
        if self._holder == self._key(dbapi_connection):
            self._holder = None
            self._lock.release()


def take_sqlite_write_lock(dbapi_connection: Any, gate: WriterGate | None = None) -> None:
    """BEGIN IMMEDIATE, trying again every millisecond or so while another writer holds it.

    With a `gate`, first wait (asleep) for this process's other threads to finish theirs.
    Inside `without_waiting()`, one try only: WriterBusy if the lock is taken.
    """
    never_wait = _never_wait.get()
    deadline = time.monotonic() + (0.0 if never_wait else WRITE_LOCK_TIMEOUT)
    if gate is not None:
        gate.enter(dbapi_connection, deadline)
    dbapi_connection.execute("PRAGMA busy_timeout=0")
    try:
        pause = WRITE_LOCK_POLL[0]
        while True:
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    if gate is not None:
                        gate.leave(dbapi_connection)
                    if never_wait and "locked" in str(exc):
                        raise WriterBusy("another writer holds the database") from exc
                    raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
            time.sleep(pause)
            pause = min(pause * 2, WRITE_LOCK_POLL[1])
    finally:
        # Other statements (and readers outside a transaction) keep the patient handler.
        dbapi_connection.execute(f"PRAGMA busy_timeout={int(WRITE_LOCK_TIMEOUT * 1000)}")


def _leave_gate_after(dialect: Dialect, name: str, gate: WriterGate) -> None:
    """Wrap the dialect's do_commit / do_rollback / do_close to open the gate after them."""
    done = getattr(dialect, name)

    def then_leave(dbapi_connection: Any, *args: Any, **kwargs: Any) -> None:
        try:
            done(dbapi_connection, *args, **kwargs)
        finally:
            gate.leave(dbapi_connection)

    setattr(dialect, name, then_leave)


def make_engine(url: str) -> Engine:
    """Create an engine with the settings robocall needs for that database."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # No pre-ping: a local file does not drop connections, and the ping would cost a
        # statement on every checkout.
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)

        # pysqlite's own transaction handling defers BEGIN; take the write lock when a
        # transaction starts so that concurrent writers queue instead of failing on upgrade.
        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        gate = WriterGate()
        for name in ("do_commit", "do_rollback", "do_close"):
            _leave_gate_after(engine.dialect, name, gate)

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection: Any) -> None:
            take_sqlite_write_lock(connection.connection.driver_connection, gate)

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def get_engine() -> Engine:
    global _engine, _sessionmaker
    engine = _engine  # every webhook asks: no lock once it exists
    if engine is not None:
        return engine
    with _lock:
        if _engine is None:
            engine = make_engine(get_settings().effective_database_url)
            _sessionmaker = sessionmaker(engine, expire_on_commit=False)
            _engine = engine  # last: whoever sees it without the lock finds the sessionmaker
        return _engine


def get_sessionmaker() -> sessionmaker[Session]:
    get_engine()
    assert _sessionmaker is not None
    return _sessionmaker


def dispose_engine() -> None:
    """Forget this process's engine (after settings change, or in a forked child)."""
    global _engine, _sessionmaker
    with _lock:
        if _engine is not None:
            _engine.dispose()
        _engine = None
        _sessionmaker = None


@contextmanager
def session_scope() -> Iterator[Session]:
    """One unit of work: commit when the block ends, roll back if it raises."""
    session = get_sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ping() -> None:
    """Raise if the database cannot be reached."""
    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))
