"""The database transaction of a provider webhook: short, committed before the answer.

Webhooks are most of the requests while a campaign runs (every status change of every call,
every key a resident presses), so how their transactions queue matters:

- SQLite has one writer at a time, and a waiting writer sleeps in growing steps (up to
  100 ms) before it tries again: under a burst that sleeping, not the work, sets the pace.
  A webhook transaction therefore first runs on the event loop itself, if it can take the
  write lock at once (a step is well under a millisecond of work). Handing it to a thread
  would cost more than the work: each statement releases the GIL, and under load the
  thread waits for the loop to give it back (up to the 5 ms switch interval) before every
  next statement. Only when another writer holds the lock does the transaction move to a
  thread of its own, where it may wait without stopping the loop; webhook transactions
  that wait run there one after the other.
- PostgreSQL runs each in a thread; more transactions at once than the server has cores
  only adds switching between its backends, so webhook threads beyond that wait their turn
  (the call's row lock orders the steps of one call).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from robocall.db import WriterBusy, get_engine, session_scope, without_waiting

T = TypeVar("T")

_sqlite_writer = threading.Lock()
_sqlite_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-sqlite")
_database_slots = threading.BoundedSemaphore(8)


@contextmanager
def webhook_session() -> Iterator[Session]:
    """A webhook's unit of work in the calling thread, committed when the block ends."""
    gate = _sqlite_writer if get_engine().dialect.name == "sqlite" else _database_slots
    with gate, session_scope() as session:
        yield session


async def in_webhook_transaction(work: Callable[[Session], T]) -> T:
    """Run `work` in a webhook's transaction and return what it returned."""

    def run() -> T:
        with webhook_session() as session:
            return work(session)

    if get_engine().dialect.name == "sqlite":
        if _sqlite_writer.acquire(blocking=False):
            try:
                with without_waiting(), session_scope() as session:
                    return work(session)
            except WriterBusy:
                pass  # nothing was written: wait for the writer on the thread
            finally:
                _sqlite_writer.release()
        return await asyncio.get_running_loop().run_in_executor(_sqlite_thread, run)
    return await run_in_threadpool(run)
