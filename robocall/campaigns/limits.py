"""Call rate and concurrency limits, enforced in Redis so they hold across every worker.

Rate, per (provider account, caller ID), in two parts:
- Pacing: evenly spaced slots, one call each (the generic cell rate algorithm, with
  reservation). A worker reserves the next free slot, at most RESERVE_AHEAD seconds away,
  and sleeps until it: with a backlog every slot is taken, however late a worker comes back.
- The rule itself: before it dials, the worker records the call in a log of the latest
  `rate` calls, and may dial only if the oldest of them is a whole window (one second, and
  WINDOW_HEADROOM more) ago; otherwise it waits for that. So no second ever holds more than
  `rate` calls, and a worker that wakes late (a busy machine) still uses its slot instead
  of losing it: after a stall the calls catch up, within the rule.
Slots are RATE_HEADROOM wider than the rate asks and the window WINDOW_HEADROOM longer than
a second, so that a request delayed on its way to the provider followed by a prompt one
never puts `rate + 1` into one second as the provider counts them. The window is the
narrower of the two: `rate` slots span more than a window, so a call that went late delays
the call a window after it by less than it was late itself, and lateness dies out instead
of being handed on for good. The Redis server's clock is used, so workers on machines with
different clocks agree.

Concurrency: the calls in flight are members of a sorted set scored by when they are
presumed dead (a safety net if neither the final callback nor the sweeper releases them).
The database is the truth: a limiter given `counted_by` (the calls the database shows in
flight) counts them again when Redis has lost the set (a restart without persistence), and
forgets members whose calls have ended when the set is full (a release that Redis missed).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Collection

import redis

from robocall.workers.connection import REDIS_DOWN

log = logging.getLogger(__name__)

OUTAGE_PATIENCE = 30.0  # seconds a worker holding a claimed call waits for Redis to come back
RATE_HEADROOM = 0.015  # slots this much wider than 1/rate (1.5 %)
WINDOW_HEADROOM = 0.01  # the window this much longer than a second (1 %)
RESERVE_AHEAD = 1.0  # seconds: a worker holds a slot at most this far in the future
_sleep = time.sleep  # how a worker waits for its slot (a busy machine wakes it late)

# KEYS[1]: the next free slot (µs, Redis clock). ARGV: slot width µs, reserve-ahead µs.
# Returns {1, slot, now} when the slot is reserved, or {0, wait µs, now} when the next free
# slot is further away than the reserve-ahead limit (ask again after waiting).
_RESERVE_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local ahead = tonumber(ARGV[2])
local slot = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
if slot - now > ahead then
  return {0, slot - now - ahead, now}
end
redis.call('SET', KEYS[1], slot + interval, 'PX', math.ceil((slot - now + interval) / 1000) + 1000)
return {1, slot, now}
"""

# KEYS[1]: the send times of the latest calls (µs, Redis clock, newest first). ARGV: how many
# calls a window may hold, the window µs. Returns {1, now} when the call may go now (it is
# logged), or {0, wait µs} until the oldest logged call leaves the window.
_LOG_CALL = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local most = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
if redis.call('LLEN', KEYS[1]) >= most then
  local oldest = tonumber(redis.call('LINDEX', KEYS[1], most - 1))
  if now - oldest < window then
    return {0, oldest + window - now}
  end
end
redis.call('LPUSH', KEYS[1], now)
redis.call('LTRIM', KEYS[1], 0, most - 1)
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
return {1, now}
"""

# KEYS: the set, its "counted" marker. ARGV: call key, limit, max call ms, whether the caller
# can count again from the database. -1: the marker is gone (Redis lost the set), count first.
_HAS_ROOM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) and 1 or 0
"""

_ACQUIRE_SLOT = """
if ARGV[4] == '1' and redis.call('EXISTS', KEYS[2]) == 0 then
  return -1
end
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

# KEYS: the set, its marker. ARGV: max call ms, then the keys of the calls in flight. The marker
# lasts a day (seconds below), so a finished campaign leaves nothing behind; counting again a
# running campaign's calls is harmless (a call already counted keeps its slot).
_RECOUNT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'NX', now + tonumber(ARGV[1]), ARGV[i])
end
redis.call('SET', KEYS[2], now, 'EX', 86400)
return #ARGV - 1
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
        self.log_key = self.key + ":sent"
        self.interval_us = math.ceil(1_000_000 / per_second * (1 + RATE_HEADROOM))
        self.ahead_us = max(int(RESERVE_AHEAD * 1_000_000), self.interval_us)
        # The window rule: at most `per_window` calls in `window_us`, one second and the
        # headroom (1/rate and the headroom for rates under one a second: one call in it).
        self.per_window = max(1, math.floor(per_second))
        seconds = max(1.0, self.per_window / per_second)
        self.window_us = math.ceil(1_000_000 * seconds * (1 + WINDOW_HEADROOM))
        self.slot_us: int | None = None  # Redis server time of the last slot reserved
        self.sent_us: int | None = None  # Redis server time the last call was let go

    def reserve(self) -> tuple[bool, float]:
        """Try to reserve the next free slot: (True, seconds until it; 0.0 is now), or
        (False, seconds to wait before asking again) when the slots within RESERVE_AHEAD
        are all taken."""
        reserved, value, now = (
            int(v)
            for v in self.client.eval(_RESERVE_SLOT, 1, self.key, self.interval_us, self.ahead_us)
        )
        if not reserved:
            return False, value / 1_000_000
        self.slot_us = value
        return True, max(value - now, 0) / 1_000_000

    def log_call(self) -> tuple[bool, float]:
        """Let a call go now if the window rule allows it: (True, 0.0), the call logged; or
        (False, seconds until it would)."""
        allowed, value = (
            int(v)
            for v in self.client.eval(_LOG_CALL, 1, self.log_key, self.per_window, self.window_us)
        )
        if not allowed:
            return False, value / 1_000_000
        self.sent_us = value
        return True, 0.0

    def take(self) -> None:
        """Return when this caller may dial: in a slot of its own, within the window rule."""
        while True:
            reserved, wait = self.reserve()
            if wait > 0:
                _sleep(wait)
            if reserved:
                break
        while True:
            allowed, wait = self.log_call()
            if allowed:
                return
            _sleep(wait)


def wait_for_rate_slot(limiter: RateLimiter, *, patience: float = OUTAGE_PATIENCE) -> bool:
    """Block until a rate slot of this caller's own comes; False if Redis stayed unreachable
    for `patience` seconds."""
    gave_up_at = time.monotonic() + patience
    backoff = 0.1  # seconds, doubled up to 1 s while Redis is unreachable
    while True:
        try:
            limiter.take()
            return True
        except REDIS_DOWN as exc:
            if time.monotonic() >= gave_up_at:
                log.warning("Redis still unreachable; this call or SMS waits for later (%s)", exc)
                return False
            log.warning("Redis unreachable while waiting for a rate slot; retrying (%s)", exc)
            time.sleep(backoff)
            backoff = min(backoff * 2, 1.0)


class ConcurrencyLimiter:
    """At most `limit` calls in flight in `scope` (a campaign, or an account)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        scope: str,
        limit: int,
        max_call_seconds: int = 3600,
        counted_by: Callable[[], Collection[str]] | None = None,
        ended_of: Callable[[Collection[str]], Collection[str]] | None = None,
    ):
        self.client = client
        self.key = _inflight_key(scope)
        self.counted_key = self.key + ":counted"
        self.limit = limit
        self.max_call_ms = max_call_seconds * 1000
        # The keys of the calls the database shows at the provider (dialling or placed).
        self.counted_by = counted_by
        # Of the given keys, those whose calls the database shows ended.
        self.ended_of = ended_of

    def _acquire(self, call_key: str) -> int:
        can_recount = "1" if self.counted_by is not None else "0"
        keys = (self.key, self.counted_key)
        args = (call_key, self.limit, self.max_call_ms, can_recount)
        return int(self.client.eval(_ACQUIRE_SLOT, 2, *keys, *args))

    def try_acquire(self, call_key: str) -> bool:
        """Count `call_key` as in flight if a slot is free (idempotent for the same key)."""
        answer = self._acquire(call_key)
        if answer == -1 and self.counted_by is not None:
            counted = list(self.counted_by())
            self.client.eval(_RECOUNT, 2, self.key, self.counted_key, self.max_call_ms, *counted)
            log.info("calls in flight counted from the database: %d", len(counted))
            answer = self._acquire(call_key)
        if answer == 0 and self.ended_of is not None:
            # Slots whose release was lost (Redis unreachable when the call ended).
            ended = set(self.ended_of(self.in_flight()))
            if ended:
                self.client.zrem(self.key, *ended)
                log.warning("slots of %d ended calls freed", len(ended))
                answer = self._acquire(call_key)
        return answer == 1

    def has_room(self) -> bool:
        """Whether a slot is free now (a cheap look before trying to take one)."""
        return bool(self.client.eval(_HAS_ROOM, 1, self.key, self.limit))

    def release(self, call_key: str) -> None:
        """The call ended: free its slot (harmless if already freed)."""
        self.client.zrem(self.key, call_key)

    def in_flight(self) -> list[str]:
        return [
            m.decode() if isinstance(m, bytes) else str(m)
            for m in self.client.zrange(self.key, 0, -1)
        ]
