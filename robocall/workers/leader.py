"""One active scheduler: a Redis lease that the leader renews and stand-bys wait for."""

from __future__ import annotations

import os
import socket
import uuid

import redis

LEADER_KEY = "robocall:scheduler:leader"

# Renew only if we still hold it; release only our own lease.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class LeaderLease:
    """A lease on the scheduler role; `ttl_ms` bounds how long a dead leader blocks others."""

    def __init__(self, client: redis.Redis, ttl_ms: int = 10_000, key: str = LEADER_KEY) -> None:
        self.client = client
        self.key = key
        self.ttl_ms = ttl_ms
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.held = False

    def try_acquire(self) -> bool:
        """Take the lease if it is free, or renew it if it is ours."""
        if self.held:
            return self.renew()
        self.held = bool(self.client.set(self.key, self.identity, nx=True, px=self.ttl_ms))
        return self.held

    def renew(self) -> bool:
        self.held = bool(self.client.eval(_RENEW, 1, self.key, self.identity, self.ttl_ms))
        return self.held

    def release(self) -> None:
        try:
            self.client.eval(_RELEASE, 1, self.key, self.identity)
        finally:
            self.held = False

    def holder(self) -> str | None:
        value = self.client.get(self.key)
        return value.decode() if isinstance(value, bytes) else value
