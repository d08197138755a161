"""The Redis connection of this process: the configured server or an embedded one."""

from __future__ import annotations

import atexit
import logging
import threading

import redis

from robocall.config import get_settings
from robocall.workers.embedded_redis import EmbeddedRedis

log = logging.getLogger(__name__)

# What a Redis outage looks like to a client: it cannot connect, or stops answering. The client
# has already retried with backoff (redis-py's default: 10 tries, up to 1 s apart) when it raises.
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)

_lock = threading.Lock()
_client: redis.Redis | None = None
_embedded: EmbeddedRedis | None = None  # this process's use of the embedded server


def embedded_socket_path() -> str | None:
    return None if _embedded is None else _embedded.socket_path


def get_redis() -> redis.Redis:
    """This process's Redis client (bytes responses, as rq expects)."""
    global _client, _embedded
    with _lock:
        if _client is None:
            settings = get_settings()
            if settings.redis_url:
                _client = redis.Redis.from_url(settings.redis_url, health_check_interval=30)
            else:
                if _embedded is None:
                    # One embedded server per var dir: processes that share ./var share it.
                    # Left at exit, registered first so no moment leaves a server behind.
                    _embedded = EmbeddedRedis(settings.var_dir)
                    atexit.register(shutdown_embedded)
                _embedded.attach()
                _client = redis.Redis(unix_socket_path=_embedded.socket_path)
        return _client


def reset_redis() -> None:
    """Forget this process's client (tests, forked children). Keeps the embedded server."""
    global _client
    with _lock:
        if _client is not None:
            _client.close()
        _client = None


def shutdown_embedded() -> None:
    """Leave the embedded Redis server; the last robocall process using it stops it."""
    global _embedded
    reset_redis()
    with _lock:
        if _embedded is not None:
            try:
                _embedded.detach()
            except OSError as exc:
                log.warning("the embedded Redis server could not be stopped: %s", exc)
            _embedded = None
