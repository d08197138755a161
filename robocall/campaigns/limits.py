"""Call rate and concurrency limits, enforced in Redis so they hold across every worker.

Rate: a token bucket of capacity one per (provider account, caller ID), refilled every
1/rate seconds (the generic cell rate algorithm). Calls are spaced evenly, so no second ever
holds more than `rate` calls, as the provider counts them. The Redis server's clock is used,
so workers on machines with different clocks agree.

Concurrency: the calls in flight are members of a sorted set scored by when they are
presumed dead (a safety net if neither the final callback nor the sweeper releases them).
"""

from __future__ import annotations

import redis

_TAKE_TOKEN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat > now then
  return {tat - now, now}
end
redis.call('SET', KEYS[1], math.max(tat, now) + interval, 'PX', math.ceil(interval / 1000) + 1000)
return {0, now}
"""

_ACQUIRE_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
return 1
"""


def _bucket_key(account: str, caller_id: str) -> str:
    return f"robocall:rate:{account}:{caller_id}"


def _inflight_key(scope: str) -> str:
    return f"robocall:inflight:{scope}"


class RateLimiter:
    """At most `per_second` calls a second for one account and caller ID."""

    def __init__(self, client: redis.Redis, *, account: str, caller_id: str, per_second: float):
        if per_second <= 0:
            raise ValueError("the rate must be positive")
        self.client = client
        self.key = _bucket_key(account, caller_id)
        self.interval_us = int(1_000_000 / per_second)
        self.granted_at_us: int | None = None  # Redis server time of the last token taken

    def try_take(self) -> float:
        """Take the token: 0.0 if taken, else the seconds to wait before asking again."""
        wait_us, now_us = self.client.eval(_TAKE_TOKEN, 1, self.key, self.interval_us)
        if int(wait_us) == 0:
            self.granted_at_us = int(now_us)
        return int(wait_us) / 1_000_000


class ConcurrencyLimiter:
    """At most `limit` calls in flight in `scope` (a campaign, or an account)."""

    def __init__(
        self, client: redis.Redis, *, scope: str, limit: int, max_call_seconds: int = 3600
    ):
        self.client = client
        self.key = _inflight_key(scope)
        self.limit = limit
        self.max_call_ms = max_call_seconds * 1000

    def try_acquire(self, call_key: str) -> bool:
        """Count `call_key` as in flight if a slot is free (idempotent for the same key)."""
        return bool(
            self.client.eval(_ACQUIRE_SLOT, 1, self.key, call_key, self.limit, self.max_call_ms)
        )

    def release(self, call_key: str) -> None:
        """The call ended: free its slot (harmless if already freed)."""
        self.client.zrem(self.key, call_key)

    def in_flight(self) -> list[str]:
        return [
            m.decode() if isinstance(m, bytes) else str(m)
            for m in self.client.zrange(self.key, 0, -1)
        ]
