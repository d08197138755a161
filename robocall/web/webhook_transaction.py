"""The database transaction of a provider webhook: short, committed before the answer.

Webhooks are most of the requests while a campaign runs (every status change of every call,
every key a resident presses), so how their transactions queue matters:

- SQLite has one writer at a time, and a waiting writer sleeps in growing steps (up to
  100 ms) before it tries again: under a burst that sleeping, not the work, sets the pace.
  Webhook transactions therefore run on the event loop itself, if they can take the write
  lock at once (a step is about a millisecond of work), and those that came in one turn of
  the loop share one transaction, so that under load BEGIN and COMMIT are paid once for
  many. Handing each to a thread would cost more than the work: each statement releases
  the GIL, and under load the thread waits for the loop to give it back (up to the 5 ms
  switch interval) before every next statement. Only when another writer holds the lock
  do they move to a thread of their own, where they may wait without stopping the loop,
  one after the other.
- PostgreSQL runs each in a thread; more transactions at once than the server has cores
  only adds switching between its backends, so webhook threads beyond that wait their turn
  (the call's row lock orders the steps of one call).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar, cast

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
    """Run `work` in a webhook's transaction and return what it returned (or raise what it
    raised); the transaction is committed before this returns."""
    if get_engine().dialect.name != "sqlite":
        return await run_in_threadpool(_run_alone, work)
    loop = asyncio.get_running_loop()
    batch = _batches.get(loop)
    if batch is None:
        batch = _batches[loop] = []
        loop.call_soon(_commit_batch, loop)
    answer: asyncio.Future[Any] = loop.create_future()
    batch.append((work, answer))
    result = await answer
    if result is _ON_THREAD:
        return await loop.run_in_executor(_sqlite_thread, _run_alone, work)
    return cast(T, result)


def _run_alone(work: Callable[[Session], T]) -> T:
    with webhook_session() as session:
        return work(session)


# The webhooks waiting for the next turn of each event loop: their transactions are one.
_Pending = tuple[Callable[[Session], Any], "asyncio.Future[Any]"]
_batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[_Pending]] = (
    weakref.WeakKeyDictionary()
)
# The answer of a webhook that found another writer busy: it waits on the thread instead.
_ON_THREAD = object()


def _commit_batch(loop: asyncio.AbstractEventLoop) -> None:
    """Run the webhooks that came in one turn of the loop in one SQLite transaction, on the
    loop, if the write lock is free; any that cannot go that way wait on the thread.

    Under load a turn brings many webhooks, and their BEGIN and COMMIT are paid once. If one
    of them fails, the transaction is rolled back and each runs again alone, so one bad
    request changes nothing of the others.
    """
    batch = _batches.pop(loop, [])
    waiting: list[_Pending] = batch
    if _sqlite_writer.acquire(blocking=False):
        try:
            with without_waiting():
                waiting = _run_together(batch) if len(batch) > 1 else batch
                waiting = _run_each(waiting)
        except WriterBusy:
            pass  # nothing was written: they all wait on the thread
        except BaseException as exc:  # an interrupt: no request is left waiting forever
            for _, answer in batch:
                if not answer.done():
                    answer.set_exception(exc)
            raise
        finally:
            _sqlite_writer.release()
    for _, answer in waiting:
        _settle(answer, _ON_THREAD)


def _run_together(batch: list[_Pending]) -> list[_Pending]:
    """One transaction for the whole batch; what is left to run one by one."""
    try:
        with session_scope() as session:
            results = [work(session) for work, _ in batch]
    except WriterBusy:
        raise
    except Exception:  # rolled back: each runs again alone, and raises alone
        return batch
    for (_, answer), result in zip(batch, results, strict=True):
        _settle(answer, result)
    return []


def _run_each(batch: list[_Pending]) -> list[_Pending]:
    """Each in a transaction of its own, while the lock is free; what is left for the thread."""
    for index, (work, answer) in enumerate(batch):
        try:
            with session_scope() as session:
                result = work(session)
        except WriterBusy:
            return batch[index:]  # nothing of it was written: it waits on the thread
        except Exception as exc:  # the request's own error, raised to it
            if not answer.done():
                answer.set_exception(exc)
            continue
        _settle(answer, result)
    return []


def _settle(answer: asyncio.Future[Any], result: Any) -> None:
    if not answer.done():  # a request whose client went away is not answered
        answer.set_result(result)
