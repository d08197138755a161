"""A worker killed with SIGKILL in the middle of dialling: the call is found, not made again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import select

from robocall.campaigns import dispatch
from robocall.campaigns.dispatch import sweep, tick
from robocall.campaigns.models import Attempt, AttemptStatus, Campaign, CampaignStatus
from robocall.config import reset_settings_cache
from robocall.db import session_scope
from robocall.telephony.provider import reset_provider
from tests.campaigns.helpers import PERSONAS, assert_exactly_as_intended, make_campaign
from tests.simulator.harness import running_simulator, serving_app


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "robocall.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        tick()
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_killed_while_dialling(session, add_contact, subprocess_env, monkeypatch):
    # Longer than any live create takes here, even on a loaded machine.
    monkeypatch.setattr(dispatch, "DIALLING_STUCK_AFTER", dispatch.dt.timedelta(seconds=6))
    monkeypatch.setattr(dispatch, "REQUEUE_AFTER", dispatch.dt.timedelta(seconds=2))
    campaign_id = make_campaign(session, add_contact, cps=5, max_concurrent=1)
    with (
        serving_app() as app_url,
        running_simulator(personas=PERSONAS, app_url=app_url, calls_per_second=100) as simulator,
    ):
        monkeypatch.setenv("ROBOCALL_SIMULATOR_URL", simulator.url)
        reset_settings_cache()
        reset_provider()
        env = {**subprocess_env, "ROBOCALL_SIMULATOR_URL": simulator.url}
        # The first create answers only after 20 s: the worker is killed while it waits.
        simulator.network.faults.update({"slow_creates": 1, "slow_create_seconds": 20.0})
        worker = _worker(env)
        try:

            def dialling() -> bool:
                with session_scope() as db_session:
                    query = select(Attempt).where(Attempt.status == AttemptStatus.dialling)
                    return db_session.scalar(query) is not None

            _wait(dialling, 30, "the worker to start dialling")
            # The provider has taken the call; the worker still waits for its answer.
            _wait(lambda: len(simulator.network.calls) == 1, 30, "the call to reach the provider")
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
            worker = _worker(env)

            def completed() -> bool:
                sweep()
                with session_scope() as db_session:
                    campaign = db_session.get(Campaign, campaign_id)
                    return campaign.status is CampaignStatus.completed

            _wait(completed, 90, "the campaign to complete")
        finally:
            worker.terminate()
            worker.wait(timeout=20)
        simulator.wait_idle()
        assert_exactly_as_intended(session, campaign_id, simulator.network)
