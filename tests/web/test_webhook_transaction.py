"""Webhook transactions on SQLite: on the event loop when the database is free, and off it
(the loop serving other requests meanwhile) while another writer holds the lock."""

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from robocall.db import make_engine
from robocall.web import webhook_transaction
from robocall.web.webhook_transaction import in_webhook_transaction


@pytest.fixture
def database(tmp_path, monkeypatch) -> Iterator[Path]:
    """Webhook transactions on a SQLite file of their own, with a table of answers."""
    path = tmp_path / "webhooks.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE answers (key TEXT)")
    maker = sessionmaker(engine)

    @contextmanager
    def scope() -> Iterator[Session]:
        with maker() as session, session.begin():
            yield session

    monkeypatch.setattr(webhook_transaction, "get_engine", lambda: engine)
    monkeypatch.setattr(webhook_transaction, "session_scope", scope)
    yield path
    engine.dispose()


def _stored(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return sorted(key for (key,) in connection.execute("SELECT key FROM answers"))


def test_a_webhook_waits_for_another_writer_without_stopping_the_event_loop(database):
    path = database
    threads: list[str] = []

    def store(key: str):
        def work(session: Session) -> int:
            threads.append(threading.current_thread().name)
            session.execute(text("INSERT INTO answers VALUES (:key)"), {"key": key})
            return int(session.execute(text("SELECT count(*) FROM answers")).scalar_one())

        return work

    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    async def main() -> tuple[int, int, int]:
        loop = asyncio.get_running_loop()
        ticks = 0

        async def other_requests() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        first = await in_webhook_transaction(store("1"))  # nobody else writes
        serving = asyncio.create_task(other_requests())
        holder.execute("BEGIN IMMEDIATE")  # another process starts writing
        loop.call_later(0.3, holder.execute, "COMMIT")
        second = await in_webhook_transaction(store("2"))
        serving.cancel()
        return first, second, ticks

    first, second, ticks = asyncio.run(main())
    assert (first, second) == (1, 2)
    assert ticks >= 15  # the loop went on for the 0.3 s the webhook waited
    assert threads[0] == threading.main_thread().name  # free: answered on the loop
    assert threads[-1].startswith("webhook-sqlite")  # busy: waited on a thread of its own


def test_webhooks_arriving_together_keep_their_own_outcome(database):
    """Many webhooks in one turn of the loop are committed together; one that fails after
    writing gets its own error, and neither its write nor anyone else's is lost or kept
    wrongly."""

    def store(key: str):
        def work(session: Session) -> str:
            session.execute(text("INSERT INTO answers VALUES (:key)"), {"key": key})
            if key == "bad":
                raise ValueError("form field Digits is required")
            return key

        return work

    async def main() -> list[object]:
        keys = ["1", "2", "bad", "3", "4"]
        return await asyncio.gather(
            *(in_webhook_transaction(store(key)) for key in keys), return_exceptions=True
        )

    results = asyncio.run(main())
    assert results[:2] == ["1", "2"] and results[3:] == ["3", "4"]
    assert isinstance(results[2], ValueError) and "Digits" in str(results[2])
    assert _stored(database) == ["1", "2", "3", "4"]
