"""Rate and concurrency limits hold across many workers sharing one real Redis."""

import threading
import time

from robocall.campaigns.limits import (
    LATE_TOLERANCE,
    RATE_HEADROOM,
    ConcurrencyLimiter,
    RateLimiter,
    wait_for_rate_slot,
)
from robocall.workers.connection import get_redis


def test_calls_are_spaced_so_no_second_exceeds_the_rate():
    client = get_redis()
    taken: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + 1.6

    def worker():
        limiter = RateLimiter(client, account="AC1", caller_id="+842873001234", per_second=10)
        while time.monotonic() < stop:
            limiter.take()
            # The limit is judged on the Redis server's clock, which every worker shares;
            # this process's own clock would add its scheduling delays to the gaps.
            with lock:
                taken.append(limiter.slot_us / 1_000_000)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken.sort()
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
        last_moment = limiter.take()
        now = time.monotonic()
        # Returned in the slot, with at most the tolerance left to ask the provider.
        assert now <= last_moment <= now + LATE_TOLERANCE
        assert limiter.slot_us is not None
        slots.append(limiter.slot_us / 1_000_000)
    # The first of rate + 1 calls asked as late as allowed, the last on time: still more
    # than a second apart.
    assert slots[20] - slots[0] - LATE_TOLERANCE > 1.0


def test_separate_caller_ids_have_separate_buckets():
    client = get_redis()
    a = RateLimiter(client, account="AC1", caller_id="+8401", per_second=1)
    b = RateLimiter(client, account="AC1", caller_id="+8402", per_second=1)
    assert a.reserve() == (True, 0.0) and b.reserve() == (True, 0.0)
    reserved, wait = a.reserve()  # the next slot of +8401, a second (and the headroom) away
    assert reserved and 0.95 < wait <= 1.02
    reserved, wait = a.reserve()  # two seconds away: beyond what a worker may hold
    assert not reserved and 0.95 < wait <= 1.1


def test_with_a_backlog_every_slot_is_used_however_late_the_workers_come_back():
    client = get_redis()
    slots: list[float] = []
    stop = time.monotonic() + 1.5

    def worker():
        limiter = RateLimiter(client, account="AC1", caller_id="+842873009999", per_second=40)
        while time.monotonic() < stop:
            limiter.take()
            slots.append(limiter.slot_us / 1_000_000)
            time.sleep(0.03)  # longer than a slot: a lone worker would fall behind

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slots.sort()
    gaps = [b - a for a, b in zip(slots, slots[1:], strict=False)]
    width = 1 / 40 * (1 + RATE_HEADROOM)
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
