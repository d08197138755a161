"""Faults a campaign must survive: after each, exactly the attempts the policy intended."""

from __future__ import annotations

import threading

from robocall import runner
from robocall.campaigns import dispatch, tasks
from robocall.runner import run_until_done, use_simulator
from robocall.runtime import embedded_simulator
from tests.campaigns.helpers import PERSONAS, assert_exactly_as_intended, make_campaign


def _simulator(personas_file, time_factor=0.001):
    use_simulator(personas=personas_file(PERSONAS), time_factor=time_factor, cps=100)
    return embedded_simulator().network


def test_duplicate_and_out_of_order_callbacks(session, add_contact, personas_file):
    campaign_id = make_campaign(session, add_contact)
    network = _simulator(personas_file)
    network.faults.update({"duplicate_callbacks": True, "out_of_order_callbacks": True})
    final = run_until_done(campaign_id=campaign_id, timeout=60)
    assert final["status"] == "completed"
    assert_exactly_as_intended(session, campaign_id, network)


def test_provider_429_and_500_on_create_are_not_attempts(
    session, add_contact, personas_file, monkeypatch
):
    monkeypatch.setenv("ROBOCALL_TELEPHONY_RETRY_BACKOFF", "0.01")
    monkeypatch.setattr(tasks, "UNAVAILABLE_BACKOFF", tasks.dt.timedelta(seconds=0.2))
    campaign_id = make_campaign(session, add_contact)
    network = _simulator(personas_file)
    # Three tries per create: the first two creates give up (unavailable), then it recovers.
    network.faults.update({"create_errors": [429, 500, 503, 429, 500, 500, 429]})
    final = run_until_done(campaign_id=campaign_id, timeout=60)
    assert final["status"] == "completed"
    assert network.faults.create_errors == []
    assert_exactly_as_intended(session, campaign_id, network)


def test_the_scheduler_restarted_mid_campaign(session, add_contact, personas_file):
    campaign_id = make_campaign(session, add_contact, cps=2, max_concurrent=2)
    network = _simulator(personas_file)
    stop = threading.Event()
    timer = threading.Timer(1.5, stop.set)
    timer.start()
    first = run_until_done(campaign_id=campaign_id, stop=stop, timeout=60)
    assert first["status"] == "running" and first["attempts_by_status"]  # stopped midway
    final = run_until_done(campaign_id=campaign_id, timeout=60)
    assert final["status"] == "completed"
    assert_exactly_as_intended(session, campaign_id, network)


def test_redis_restarted_mid_campaign(
    session, add_contact, personas_file, monkeypatch, restartable_redis
):
    # Killed and started again without persistence: queued jobs, limiter state and leases are
    # gone, and for a while every connection fails (scheduler, workers, webhooks alike).
    monkeypatch.setattr(dispatch, "REQUEUE_AFTER", dispatch.dt.timedelta(seconds=0.5))
    monkeypatch.setattr(runner, "SWEEP_EVERY", 0.3)
    campaign_id = make_campaign(session, add_contact, cps=3, max_concurrent=2)
    # Calls last up to about a second: those in progress end, and call back, while Redis is down.
    network = _simulator(personas_file, time_factor=0.01)
    restarts: list[threading.Thread] = []

    def restart_midway(current):
        if not restarts and current["attempts_by_status"].get("placed"):
            # From another thread: this loop itself must live through the outage.
            restart = threading.Thread(target=restartable_redis.restart, args=(1.5,))
            restart.start()
            restarts.append(restart)

    final = run_until_done(campaign_id=campaign_id, on_progress=restart_midway, timeout=60)
    assert restarts, "the campaign ended before Redis could be restarted"
    restarts[0].join(timeout=30)
    assert restartable_redis.restarts == 1
    assert final["status"] == "completed"
    assert_exactly_as_intended(session, campaign_id, network)
    # Redis forgot which calls were in flight; the cap held all the same.
    assert network.peak_live_calls <= 2
