"""Periodic jobs the scheduler runs. Each domain lists its own in its `scheduled.py`; the
composition root (`robocall.runtime`) registers them, with the heartbeat."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import redis

from robocall.db import utcnow

TICKS_KEY = "robocall:scheduler:ticks"  # hash: scheduler identity -> ticks run


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    seconds: float  # interval between runs
    func: Callable[[redis.Redis, str], None]  # (redis client, scheduler identity)
    description: str


def heartbeat(client: redis.Redis, identity: str) -> None:
    """Record that the active scheduler ticked (read by health checks and tests)."""
    pipe = client.pipeline()
    pipe.hincrby(TICKS_KEY, identity, 1)
    pipe.set("robocall:scheduler:last_tick", utcnow().isoformat())
    pipe.execute()


_REGISTRY: dict[str, PeriodicJob] = {}


def register(job: PeriodicJob) -> None:
    _REGISTRY[job.name] = job


def registered() -> dict[str, PeriodicJob]:
    return dict(_REGISTRY)


HEARTBEAT = PeriodicJob("heartbeat", 1.0, heartbeat, "record that the scheduler is alive")
