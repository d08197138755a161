"""Rate and concurrency limits hold across many workers sharing one real Redis."""

import heapq
import threading
import time

import pytest

from robocall.campaigns.limits import (
    LATE_TOLERANCE,
    RATE_HEADROOM,
    RESERVE_AHEAD,
    ConcurrencyLimiter,
    RateLimiter,
    wait_for_rate_slot,
)
from robocall.workers.connection import get_redis


class ControlledClock:
    """Microseconds that move only when the test says (in place of the Redis server's clock)."""

    def __init__(self) -> None:
        self.now_us = 1_700_000_000_000_000

    def __call__(self) -> int:
        return self.now_us


def slots_granted(
    *, caller_id: str, per_second: float, workers: int, seconds: float, back_after: float = 0.0
) -> list[float]:
    """Workers sharing one bucket ask for slots for `seconds` of controlled time; each asks
    again `back_after` seconds after its slot (the time it took to dial). The slots granted,
    in seconds from the start."""
    clock = ControlledClock()
    start = clock.now_us
    limiters = [
        RateLimiter(
            get_redis(), account="AC1", caller_id=caller_id, per_second=per_second, clock_us=clock
        )
        for _ in range(workers)
    ]
    asks = [(start, worker) for worker in range(workers)]  # (when it asks, which worker)
    heapq.heapify(asks)
    slots: list[float] = []
    while asks:
        at, worker = heapq.heappop(asks)
        if at >= start + seconds * 1_000_000:
            continue
        clock.now_us = at
        reserved, wait = limiters[worker].reserve()
        if not reserved:  # every slot within reach is held: ask again after the wait
            heapq.heappush(asks, (at + round(wait * 1_000_000), worker))
            continue
        slot = limiters[worker].slot_us
        assert slot is not None and slot >= at
        slots.append((slot - start) / 1_000_000)
        heapq.heappush(asks, (slot + round(back_after * 1_000_000), worker))
    return sorted(slots)


def test_calls_are_spaced_so_no_second_exceeds_the_rate():
    taken = slots_granted(caller_id="+842873001234", per_second=10, workers=6, seconds=1.6)
    # Workers may hold slots up to a second ahead: 1.6 s of asking reserves up to 2.6 s.
    assert 16 <= len(taken) <= 27
    assert all(b - a >= 0.1 for a, b in zip(taken, taken[1:], strict=False))
    most_in_a_second = max(sum(1 for x in taken if s <= x < s + 1.0) for s in taken)
    assert most_in_a_second <= 10


def test_a_slot_is_used_only_within_its_tolerance_and_rate_plus_one_never_fits_a_second():
    client = get_redis()
    limiter = RateLimiter(client, account="AC1", caller_id="+842873005555", per_second=20)
    slots: list[float] = []
    for _ in range(21):
        before = time.monotonic()
        last_moment = limiter.take()
        after = time.monotonic()
        # Returned in the slot: its last moment is at most the tolerance past the slot, which
        # came between the ask and the return, however long this machine took to get there.
        assert before <= last_moment <= after + LATE_TOLERANCE
        assert limiter.slot_us is not None
        slots.append(limiter.slot_us / 1_000_000)
    # The first of rate + 1 calls asked as late as allowed, the last on time: still more
    # than a second apart.
    assert slots[20] - slots[0] - LATE_TOLERANCE > 1.0


def test_separate_caller_ids_have_separate_buckets():
    clock = ControlledClock()
    client = get_redis()
    a = RateLimiter(client, account="AC1", caller_id="+8401", per_second=1, clock_us=clock)
    b = RateLimiter(client, account="AC1", caller_id="+8402", per_second=1, clock_us=clock)
    assert a.reserve() == (True, 0.0) and b.reserve() == (True, 0.0)
    # The next slot of +8401 is a second (and the headroom) away.
    assert a.reserve() == (True, 1 + RATE_HEADROOM)
    # Two slots away is beyond what a worker may hold (a second, or one slot if wider): ask
    # again once it is within reach.
    within_reach = max(RESERVE_AHEAD, 1 + RATE_HEADROOM)
    reserved, wait = a.reserve()
    assert not reserved and wait == pytest.approx(2 * (1 + RATE_HEADROOM) - within_reach)


def test_with_a_backlog_every_slot_is_used_however_late_the_workers_come_back():
    # Each worker comes back 30 ms after its slot, longer than a slot: a lone worker would
    # fall behind, three together use every slot.
    slots = slots_granted(
        caller_id="+842873009999", per_second=40, workers=3, seconds=1.5, back_after=0.03
    )
    width = 1 / 40 * (1 + RATE_HEADROOM)
    gaps = [b - a for a, b in zip(slots, slots[1:], strict=False)]
    # Back to back: every gap is one slot wide (to the microsecond), none was lost.
    assert all(abs(gap - width) < 0.000_01 for gap in gaps), gaps
    assert len(slots) >= 50


def test_concurrency_cap_and_release():
    client = get_redis()
    cap = ConcurrencyLimiter(client, scope="campaign:1", limit=2)
    assert cap.try_acquire("attempt:1")
    assert cap.try_acquire("attempt:1")  # the same call again does not take a second slot
    assert cap.try_acquire("attempt:2")
    assert not cap.try_acquire("attempt:3")
    assert not cap.has_room()
    cap.release("attempt:1")
    assert cap.has_room()
    assert cap.try_acquire("attempt:3")
    assert sorted(cap.in_flight()) == ["attempt:2", "attempt:3"]


def test_a_call_whose_end_was_never_heard_frees_its_slot_after_the_maximum_length():
    client = get_redis()
    cap = ConcurrencyLimiter(client, scope="campaign:2", limit=1, max_call_seconds=1)
    assert cap.try_acquire("attempt:1")
    assert not cap.try_acquire("attempt:2")
    time.sleep(1.1)
    assert cap.try_acquire("attempt:2")


def test_calls_in_flight_are_counted_again_from_the_database_after_redis_lost_them():
    client = get_redis()
    in_the_database = {"attempt:1", "attempt:2"}  # calls the database shows in flight
    cap = ConcurrencyLimiter(
        client, scope="campaign:3", limit=2, counted_by=lambda: set(in_the_database)
    )
    client.flushall()  # a restart without persistence: no slot is known any more
    assert not cap.try_acquire("attempt:3")  # two calls are still in progress
    assert sorted(cap.in_flight()) == ["attempt:1", "attempt:2"]
    assert cap.try_acquire("attempt:1")  # a counted call dialling holds its own slot


def test_slots_of_calls_the_database_shows_ended_are_freed_when_the_cap_is_reached():
    client = get_redis()
    in_the_database = {"attempt:1", "attempt:2"}  # calls not ended
    cap = ConcurrencyLimiter(
        client,
        scope="campaign:4",
        limit=2,
        counted_by=lambda: set(in_the_database),
        ended_of=lambda keys: {key for key in keys if key not in in_the_database},
    )
    assert cap.try_acquire("attempt:1") and cap.try_acquire("attempt:2")
    # attempt:1 ended while Redis was unreachable: its release never arrived.
    in_the_database = {"attempt:2", "attempt:3"}
    assert cap.try_acquire("attempt:3")
    assert sorted(cap.in_flight()) == ["attempt:2", "attempt:3"]
    assert not cap.try_acquire("attempt:4")  # the cap still holds


def test_a_worker_waits_for_its_rate_slot_while_redis_restarts(restartable_redis):
    limiter = RateLimiter(get_redis(), account="AC1", caller_id="+8401", per_second=5)
    assert wait_for_rate_slot(limiter)
    restartable_redis.stop()
    coming_back = threading.Timer(0.5, restartable_redis.start)
    coming_back.start()
    try:
        assert wait_for_rate_slot(limiter, patience=20)  # waited through the outage
    finally:
        coming_back.join()
    restartable_redis.stop()
    assert not wait_for_rate_slot(limiter, patience=0.1)  # down too long: the caller gives up
