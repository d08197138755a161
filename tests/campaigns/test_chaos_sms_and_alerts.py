"""Workers killed and Redis restarted in the middle of SMS and urgent alerts: each message
goes out exactly once, and nothing is left pending.

The provider is the simulator, over HTTP with the real Twilio SDK; the workers are real
`robocall worker` processes killed with SIGKILL while the provider holds their request.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable

from sqlalchemy import select

from robocall.campaigns import dispatch
from robocall.campaigns.dispatch import sweep, tick
from robocall.campaigns.models import SmsState, Target
from robocall.campaigns.service import create_campaign, start_campaign
from robocall.config import reset_settings_cache
from robocall.db import session_scope
from robocall.hotline import notify
from robocall.hotline import service as hotline
from robocall.hotline.models import NotificationStatus, ReportChannel, ReportNotification
from robocall.hotline.scheduled import alerts_sweeper
from robocall.hotline.service import ReportSource, file_report
from robocall.ivr.library import get_library
from robocall.processes import make_worker
from robocall.telephony.provider import reset_provider
from robocall.workers.connection import get_redis
from tests.simulator.harness import running_simulator, serving_app

RESIDENTS = ("+84912000101", "+84912000102", "+84912000103")
DUTY = ("+84912000769", "+84987000769")  # ivr_flows/duty.yaml: the sample district's
SLOW = 20.0  # seconds the provider holds the first create: the worker is killed meanwhile


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "robocall.cli", "worker", "--queue", "sms", "--queue", "calls"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait(condition: Callable[[], bool], seconds: float, what: str, *, between=None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if between is not None:
            between()
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _kill(worker: subprocess.Popen[bytes]) -> None:
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def _sent_by_simulator(network) -> Counter[str]:
    return Counter(m.to for m in network.messages.values())


def test_a_worker_killed_while_sending_a_campaign_sms_sends_it_once(
    session, add_contact, subprocess_env, monkeypatch
):
    monkeypatch.setattr(dispatch, "REQUEUE_AFTER", dt.timedelta(seconds=2))
    monkeypatch.setattr(dispatch, "SMS_STUCK_AFTER", dt.timedelta(seconds=4))
    contacts = [add_contact(f"Người về {i}", phone) for i, phone in enumerate(RESIDENTS)]
    campaign = create_campaign(
        db_session=session,
        preset="returnee_sms",
        contact_ids=[c.id for c in contacts],
        window="00:00-24:00",
    )
    start_campaign(db_session=session, campaign_id=campaign.id)
    session.commit()
    with serving_app() as app_url, running_simulator(app_url=app_url) as simulator:
        monkeypatch.setenv("ROBOCALL_SIMULATOR_URL", simulator.url)
        reset_settings_cache()
        reset_provider()
        env = {**subprocess_env, "ROBOCALL_SIMULATOR_URL": simulator.url}
        simulator.network.faults.update({"slow_creates": 1, "slow_create_seconds": SLOW})
        worker = _worker(env)
        try:
            _wait(
                lambda: len(simulator.network.messages) >= 1,
                60,
                "an SMS at the provider",
                between=tick,
            )
            _kill(worker)  # it waits for the provider's answer, the SMS already on its way
            worker = _worker(env)

            def all_sent() -> bool:
                with session_scope() as db_session:
                    states = db_session.scalars(
                        select(Target.sms_state).where(Target.campaign_id == campaign.id)
                    ).all()
                return states == [SmsState.sent] * len(RESIDENTS)

            _wait(all_sent, 120, "every SMS to be recorded", between=lambda: (tick(), sweep()))
        finally:
            worker.terminate()
            worker.wait(timeout=20)
        assert _sent_by_simulator(simulator.network) == Counter(RESIDENTS)
        with session_scope() as db_session:
            sids = db_session.scalars(
                select(Target.message_sid).where(Target.campaign_id == campaign.id)
            ).all()
        assert len(set(sids)) == len(RESIDENTS) and set(sids) <= set(simulator.network.messages)


def _urgent_report(session, commune_id: int) -> None:
    file_report(
        db_session=session,
        source=ReportSource(
            channel=ReportChannel.hotline, phone="+84912000199", unit_id=commune_id
        ),
        data={"kind": "symptoms", "symptoms": ["shortness_of_breath"], "urgent": True},
        roster=get_library().duty,
    )
    session.commit()


def _notifications(session) -> list[tuple[str, NotificationStatus, str | None]]:
    """(to, status, provider id) of each alert; no transaction is left open (the embedded
    database lets one writer at a time, and the served app writes)."""
    session.expire_all()
    rows = session.execute(
        select(
            ReportNotification.to, ReportNotification.status, ReportNotification.provider_id
        ).order_by(ReportNotification.to)
    ).all()
    session.rollback()
    return [tuple(row) for row in rows]


def test_a_worker_killed_while_sending_an_urgent_alert_delivers_it_once(
    session, commune, subprocess_env, monkeypatch
):
    monkeypatch.setattr(hotline, "ALERT_STUCK_AFTER", dt.timedelta(seconds=4))
    with serving_app() as app_url, running_simulator(app_url=app_url) as simulator:
        monkeypatch.setenv("ROBOCALL_SIMULATOR_URL", simulator.url)
        reset_settings_cache()
        reset_provider()
        env = {**subprocess_env, "ROBOCALL_SIMULATOR_URL": simulator.url}
        simulator.network.faults.update({"slow_creates": 1, "slow_create_seconds": SLOW})
        _urgent_report(session, commune.id)
        worker = _worker(env)
        try:
            _wait(lambda: len(simulator.network.messages) >= 1, 60, "an alert at the provider")
            _kill(worker)
            worker = _worker(env)

            def all_sent() -> bool:
                return [status for _, status, _ in _notifications(session)] == [
                    NotificationStatus.sent
                ] * len(DUTY)

            _wait(
                all_sent,
                120,
                "every alert to be sent",
                between=lambda: alerts_sweeper(get_redis(), "test"),
            )
        finally:
            worker.terminate()
            worker.wait(timeout=20)
        assert _sent_by_simulator(simulator.network) == Counter(DUTY)
        assert {sid for _, _, sid in _notifications(session)} <= set(simulator.network.messages)


def test_an_urgent_report_made_while_redis_restarts_alerts_each_duty_number_once(
    session, commune, restartable_redis, monkeypatch
):
    monkeypatch.setattr(hotline, "ALERT_LOST_AFTER", dt.timedelta(0))
    # Alerts go to the development outbox (a Redis list), counted below.
    notify.set_sms_sender(notify.outbox_sender)
    notify.set_sent_lookup(None)
    restartable_redis.stop()
    # The report is committed; the alerts' jobs cannot be queued (Redis is down).
    _urgent_report(session, commune.id)
    assert [status for _, status, _ in _notifications(session)] == [NotificationStatus.queued] * 2
    restartable_redis.start()
    assert make_worker(["sms"]).work(burst=True) is False  # nothing reached the queue
    alerts_sweeper(get_redis(), "test")  # the sweeper finds what Redis lost
    alerts_sweeper(get_redis(), "test")  # and running again queues nothing twice over
    make_worker(["sms"]).work(burst=True)
    sent = Counter(m["to"] for m in notify.outbox_messages())
    assert sent == Counter(DUTY)
    assert [status for _, status, _ in _notifications(session)] == [NotificationStatus.sent] * 2
    alerts_sweeper(get_redis(), "test")
    make_worker(["sms"]).work(burst=True)
    assert Counter(m["to"] for m in notify.outbox_messages()) == Counter(DUTY)
