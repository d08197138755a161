"""Rate and concurrency limits hold across many workers sharing one real Redis."""

import threading
import time

from robocall.campaigns.limits import ConcurrencyLimiter, RateLimiter, wait_for_token
from robocall.workers.connection import get_redis


def test_calls_are_spaced_so_no_second_exceeds_the_rate():
    client = get_redis()
    taken: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + 1.6

    def worker():
        limiter = RateLimiter(client, account="AC1", caller_id="+842873001234", per_second=10)
        while time.monotonic() < stop:
            wait = limiter.try_take()
            if wait == 0:
                # The limit is judged on the Redis server's clock, which every worker shares;
                # this process's own clock would add its scheduling delays to the gaps.
                with lock:
                    taken.append(limiter.granted_at_us / 1_000_000)
            else:
                time.sleep(min(wait, 0.01))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken.sort()
    assert 14 <= len(taken) <= 17
    most_in_a_second = max(sum(1 for x in taken if s <= x < s + 1.0) for s in taken)
    assert most_in_a_second <= 10


def test_separate_caller_ids_have_separate_buckets():
    client = get_redis()
    a = RateLimiter(client, account="AC1", caller_id="+8401", per_second=1)
    b = RateLimiter(client, account="AC1", caller_id="+8402", per_second=1)
    assert a.try_take() == 0 and b.try_take() == 0
    wait = a.try_take()
    assert 0.9 < wait <= 1.0


def test_concurrency_cap_and_release():
    client = get_redis()
    cap = ConcurrencyLimiter(client, scope="campaign:1", limit=2)
    assert cap.try_acquire("attempt:1")
    assert cap.try_acquire("attempt:1")  # the same call again does not take a second slot
    assert cap.try_acquire("attempt:2")
    assert not cap.try_acquire("attempt:3")
    cap.release("attempt:1")
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
    in_the_database = {"attempt:1", "attempt:2"}
    cap = ConcurrencyLimiter(
        client, scope="campaign:4", limit=2, counted_by=lambda: set(in_the_database)
    )
    assert cap.try_acquire("attempt:1") and cap.try_acquire("attempt:2")
    # attempt:1 ended while Redis was unreachable: its release never arrived.
    in_the_database = {"attempt:2", "attempt:3"}
    assert cap.try_acquire("attempt:3")
    assert sorted(cap.in_flight()) == ["attempt:2", "attempt:3"]
    assert not cap.try_acquire("attempt:4")  # the cap still holds


def test_a_worker_waits_for_its_token_while_redis_restarts(restartable_redis):
    limiter = RateLimiter(get_redis(), account="AC1", caller_id="+8401", per_second=5)
    assert wait_for_token(limiter)
    restartable_redis.stop()
    coming_back = threading.Timer(0.5, restartable_redis.start)
    coming_back.start()
    try:
        assert wait_for_token(limiter, patience=20)  # waited through the outage
    finally:
        coming_back.join()
    restartable_redis.stop()
    assert not wait_for_token(limiter, patience=0.1)  # down too long: the caller gives up
