"""Call rate and concurrency limits, enforced in Redis so they hold across every worker.

Rate: evenly spaced slots per (provider account, caller ID), one call each (the generic cell
rate algorithm, with reservation). A worker reserves the next free slot, at most
RESERVE_AHEAD seconds away, sleeps until it and dials: with a backlog every slot is used,
however late a worker comes back, and no second holds more than `rate` calls. A slot is
used only if the provider is asked at most LATE_TOLERANCE after it (checked when the call
is stamped, right before the request: `take` returns that last moment), and slots are
RATE_HEADROOM wider than the rate asks, a little more than LATE_TOLERANCE a second: then
`rate + 1` calls span more than a second even when the first of them was asked as late as
allowed and the last on time. The Redis server's clock is used, so workers on machines with
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
RESERVE_AHEAD = 1.0  # seconds: a worker holds a slot at most this far in the future
LATE_TOLERANCE = 0.006  # seconds: a slot is used only this late at most
# Slots this much wider than 1/rate: above LATE_TOLERANCE (seconds) per second, with 2 ms
# to spare, so a late first call and a prompt last one never put rate + 1 into one second.
RATE_HEADROOM = LATE_TOLERANCE + 0.002

# KEYS[1]: the next free slot (µs, Redis clock). ARGV: slot width µs, reserve-ahead µs, and
# optionally the time now in µs (a controlled clock; else the Redis server's).
# Returns {1, slot, now} when the slot is reserved, or {0, wait µs, now} when the next free
# slot is further away than the reserve-ahead limit (ask again after waiting).
_RESERVE_SLOT = """
local now
if ARGV[3] then
  now = tonumber(ARGV[3])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local interval = tonumber(ARGV[1])
local ahead = tonumber(ARGV[2])
local slot = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
if slot - now > ahead then
  return {0, slot - now - ahead, now}
end
redis.call('SET', KEYS[1], slot + interval, 'PX', math.ceil((slot - now + interval) / 1000) + 1000)
return {1, slot, now}
"""

# KEYS: the set. ARGV: the limit. 1 if a slot is free now (the dead calls forgotten).
_HAS_ROOM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) and 1 or 0
"""

# KEYS: the set, its "counted" marker. ARGV: call key, limit, max call ms, whether the caller
# can count again from the database, whether to take the slot ('0': only look). -1: the
# marker is gone (Redis lost the set), count first.
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
if ARGV[5] == '1' then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
end
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

    def __init__(
        self,
        client: redis.Redis,
        *,
        account: str,
        caller_id: str,
        per_second: float,
        clock_us: Callable[[], int] | None = None,
    ):
        if per_second <= 0:
            raise ValueError("the rate must be positive")
        self.client = client
        # The time now in µs for every limiter of this bucket; unset: the Redis server's clock,
        # which workers on every machine share. Tests hand in a controlled clock.
        self.clock_us = clock_us
        self.key = _bucket_key(account, caller_id)
        self.interval_us = math.ceil(1_000_000 / per_second * (1 + RATE_HEADROOM))
        self.ahead_us = max(int(RESERVE_AHEAD * 1_000_000), self.interval_us)
        self.slot_us: int | None = None  # Redis server time of the last slot reserved
        self.slot_at = 0.0  # the same slot on this machine's monotonic clock, at the latest

    def reserve(self) -> tuple[bool, float]:
        """Try to reserve the next free slot: (True, seconds until it; 0.0 is now), or
        (False, seconds to wait before asking again) when the slots within RESERVE_AHEAD
        are all taken."""
        args: list[int] = [self.interval_us, self.ahead_us]
        if self.clock_us is not None:
            args.append(self.clock_us())
        reserved, value, now = (int(v) for v in self.client.eval(_RESERVE_SLOT, 1, self.key, *args))
        if not reserved:
            return False, value / 1_000_000
        self.slot_us = value
        return True, max(value - now, 0) / 1_000_000

    def take(self, *, lead: float = 0.0) -> float:
        """Return `lead` seconds before a slot of this caller's own: reserve one, then sleep
        until then. Returns the slot's last moment (monotonic clock): the provider must be
        asked by then, or the slot given up (`telephony.service.TooLate`) and another taken.
        With a lead, the caller sleeps the rest of the way (`sleep_until(self.slot_at)`).

        A caller that wakes more than LATE_TOLERANCE after its slot (a busy machine) gives
        the slot up and reserves another: dialling late, right before the next slot's
        owner dials on time, would put two calls closer than the rate allows. The slot's
        moment on this machine's clock lies between the request to Redis and its answer:
        the caller sleeps until the latest it could be (`slot_at`), and the last moment
        counts from the earliest, so a slow answer (another thread holding the interpreter)
        cannot move a call later than the tolerance.
        """
        while True:
            asked = time.monotonic()
            reserved, wait = self.reserve()
            answered = time.monotonic()
            if not reserved:
                time.sleep(wait)
                continue
            self.slot_at = answered + wait
            sleep_until(self.slot_at - lead)
            last_moment = asked + wait + LATE_TOLERANCE
            if time.monotonic() <= last_moment:
                return last_moment


def sleep_until(moment: float) -> None:
    """Sleep until the monotonic time `moment` (at once if it has passed)."""
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def wait_for_rate_slot(
    limiter: RateLimiter, *, lead: float = 0.0, patience: float = OUTAGE_PATIENCE
) -> float | None:
    """Block until `lead` seconds before a rate slot of this caller's own, and return its
    last moment (see `RateLimiter.take`); None if Redis stayed unreachable for `patience`
    seconds."""
    gave_up_at = time.monotonic() + patience
    backoff = 0.1  # seconds, doubled up to 1 s while Redis is unreachable
    while True:
        try:
            return limiter.take(lead=lead)
        except REDIS_DOWN as exc:
            if time.monotonic() >= gave_up_at:
                log.warning("Redis still unreachable; this call or SMS waits for later (%s)", exc)
                return None
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

    def _acquire(self, call_key: str, take: bool) -> int:
        can_recount = "1" if self.counted_by is not None else "0"
        keys = (self.key, self.counted_key)
        args = (call_key, self.limit, self.max_call_ms, can_recount, "1" if take else "0")
        return int(self.client.eval(_ACQUIRE_SLOT, 2, *keys, *args))

    def try_acquire(self, call_key: str) -> bool:
        """Count `call_key` as in flight if a slot is free (idempotent for the same key)."""
        return self._admit(call_key, take=True)

    def has_room_for(self, call_key: str) -> bool:
        """Whether `try_acquire` would count `call_key` now (it changes nothing else: the
        calls in flight may be counted again from the database, ended ones forgotten)."""
        return self._admit(call_key, take=False)

    def _admit(self, call_key: str, *, take: bool) -> bool:
        answer = self._acquire(call_key, take)
        if answer == -1 and self.counted_by is not None:
            counted = list(self.counted_by())
            self.client.eval(_RECOUNT, 2, self.key, self.counted_key, self.max_call_ms, *counted)
            log.info("calls in flight counted from the database: %d", len(counted))
            answer = self._acquire(call_key, take)
        if answer == 0 and self.ended_of is not None:
            # Slots whose release was lost (Redis unreachable when the call ended).
            ended = set(self.ended_of(self.in_flight()))
            if ended:
                self.client.zrem(self.key, *ended)
                log.info("slots of %d ended calls freed", len(ended))
                answer = self._acquire(call_key, take)
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
