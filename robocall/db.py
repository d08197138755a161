"""Database engine and sessions for one process, and the declarative base.

Application code never commits: a request dependency, a job wrapper or a CLI command opens
`session_scope()`, which commits at the edge or rolls back on error.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import repeat
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Engine,
    MetaData,
    Table,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Dialect
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


# How long a transaction waits for another's write lock before it fails (seconds). Several
# processes (web, worker, scheduler) and threads share the SQLite file: they wait, not fail.
WRITE_LOCK_TIMEOUT = 30.0


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy, not pysqlite, begins transactions (`_begin_immediate`).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(WRITE_LOCK_TIMEOUT * 1000)}")
    cursor.close()


def _begin_immediate(connection: Connection) -> None:
    # Every transaction takes SQLite's write lock when it begins, so concurrent writers wait
    # for each other (busy timeout) instead of failing when a reader upgrades to a writer.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """Create an engine with the settings robocall needs for that database.

    SQLite, the embedded default, is set up as SQLAlchemy's pysqlite documentation shows
    ("Serializable isolation / Savepoints / Transactional DDL"): WAL, a busy timeout, and
    BEGIN IMMEDIATE for each transaction. PostgreSQL needs nothing special.
    """
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # No pre-ping: a local file does not drop connections, and the ping would cost a
        # statement on every checkout.
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": WRITE_LOCK_TIMEOUT}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def get_engine() -> Engine:
    global _engine, _sessionmaker
    engine = _engine  # every request asks: no lock once it exists
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


BULK_CHUNK = 5000  # rows per COPY or executemany
BULK_SQLITE_CACHE_KIB = 65536  # SQLite's page cache while writing many rows


def bulk_insert(
    *,
    db_session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    constants: dict[str, Any] | None = None,
) -> int:
    """Insert many rows (dicts keyed by column) of `table` in the session's transaction:
    COPY on PostgreSQL, else one INSERT run with executemany, a chunk at a time. `constants`
    are the same for all rows. Values are converted with each column's own bind processor
    (as SQLAlchemy would), once per value rather than through a parameter dict per row; an
    empty JSON list or object, the most common value, once for all rows."""
    constants = constants or {}
    if not rows:
        return 0
    connection = db_session.connection()
    dialect = connection.dialect
    columns = [c for c in table.columns if c.key != "id"]
    names = [c.key for c in columns]
    # Column defaults are not applied here: a required column must be given.
    missing = [
        c.key for c in columns if not c.nullable and c.key not in constants and c.key not in rows[0]
    ]
    if missing:
        raise ValueError(f"bulk_insert into {table.name}: no value for {', '.join(missing)}")
    processors: list[Any] = []
    empties: list[dict[Any, Any]] = []
    fixed: dict[int, Any] = {}
    for index, column in enumerate(columns):
        processor = column.type.dialect_impl(dialect).bind_processor(dialect)
        processors.append(processor)
        empty: dict[Any, Any] = {}
        if isinstance(column.type, JSON) and processor is not None:
            empty = {"[]": processor([]), "{}": processor({})}
        empties.append(empty)
        if column.key in constants:
            value = constants[column.key]
            fixed[index] = processor(value) if processor and value is not None else value
    placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
    quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in names)
    sql = (
        f"INSERT INTO {table.name} ({quoted}) "  # noqa: S608 - column names from the model
        f"VALUES ({', '.join([placeholder] * len(names))})"
    )
    copy_sql = (
        f"COPY {table.name} ({quoted}) FROM STDIN"
        if dialect.name == "postgresql" and dialect.driver == "psycopg"
        else None
    )
    plan = list(zip(range(len(names)), names, processors, empties, strict=True))
    written = 0
    sqlite_cache = None
    if dialect.name == "sqlite" and len(rows) > BULK_CHUNK:
        # The indexes of a large insert outgrow SQLite's default 2 MB page cache.
        sqlite_cache = connection.exec_driver_sql("PRAGMA cache_size").scalar()
        connection.exec_driver_sql(f"PRAGMA cache_size = -{BULK_SQLITE_CACHE_KIB}")
    # Column by column: one comprehension per column is far cheaper than a branch per cell.
    for start in range(0, len(rows), BULK_CHUNK):
        chunk = rows[start : start + BULK_CHUNK]
        columns_values: list[Iterable[Any]] = []
        for index, name, processor, empty in plan:
            if index in fixed:
                columns_values.append(repeat(fixed[index], len(chunk)))
                continue
            values = [row.get(name) for row in chunk]
            if empty:
                values = [
                    None
                    if v is None
                    else empty["[]" if isinstance(v, list) else "{}"]
                    if not v
                    else processor(v)
                    for v in values
                ]
            elif processor is not None:
                values = [None if v is None else processor(v) for v in values]
            columns_values.append(values)
        values_rows = list(zip(*columns_values, strict=False))
        if copy_sql is not None:
            # PostgreSQL: COPY is several times faster than any INSERT for many rows.
            with connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
                with cursor.copy(copy_sql) as copy:
                    for row in values_rows:
                        copy.write_row(row)
        else:
            connection.exec_driver_sql(sql, values_rows)
        written += len(values_rows)
    if sqlite_cache is not None:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(sqlite_cache)}")
    return written
