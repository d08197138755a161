"""Listing calls through the SDK: Twilio's filters and paging."""

from __future__ import annotations

import datetime as dt

from robocall.telephony import service
from robocall.telephony.base import CallStatus
from tests.simulator.harness import adapter, running_simulator

RESIDENT = "+84912345678"


def test_the_sdk_pages_through_calls_filtered_by_to_status_and_start_time(session):
    personas = f'numbers: {{"{RESIDENT}": [human, busy, human, human, human]}}'
    before = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    with running_simulator(personas=personas) as simulator:
        provider = adapter(simulator)
        for _ in range(5):
            service.place_call(db_session=session, to=RESIDENT, provider=provider)
        service.place_call(db_session=session, to="+84987654321", provider=provider)
        session.commit()
        simulator.wait_idle()
        client = provider.client
        completed = client.calls.list(to=RESIDENT, status="completed", page_size=2)
        busy = client.calls.list(to=RESIDENT, status="busy")
        today = client.calls.list(to=RESIDENT, start_time_after=before, page_size=2)
        tomorrow = client.calls.list(start_time_after=before + dt.timedelta(days=1))
        recent = provider.recent_calls_to(to=RESIDENT, since=before)
        # Four completed calls in pages of two: two requests, following next_page_uri.
        pages = sum(1 for name, _ in simulator.network.requests if name == "ListCall")
    assert len(completed) == 4 and {c.to for c in completed} == {RESIDENT}
    assert len(busy) == 1
    # The busy call never started, so StartTime filters leave it out.
    assert len(today) == 4
    assert tomorrow == []
    assert len(recent) == 5
    assert [c.status for c in recent].count(CallStatus.busy) == 1
    created = [c.created_at for c in recent]
    assert created == sorted(created, reverse=True)
    assert pages == 2 + 1 + 2 + 1 + 1
