"""Provider errors: 429/5xx retried without dialling twice, timeouts looked up, 4xx refused."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import func, select

from robocall.telephony import service
from robocall.telephony.base import (
    ERROR_GEO_PERMISSION,
    ERROR_INVALID_NUMBER,
    ERROR_NOT_PERMITTED,
    ERROR_NOT_SMS_CAPABLE,
    ERROR_UNSUBSCRIBED,
    CallStatus,
    ProviderRejected,
    ProviderUnavailable,
)
from robocall.telephony.models import Call
from tests.simulator.harness import adapter, running_simulator

RESIDENT = "+84912345678"


def creates(simulator, operation: str) -> int:
    return sum(1 for name, _ in simulator.network.requests if name == operation)


def test_429_and_500_on_create_are_retried_and_the_resident_is_dialled_once(session):
    with running_simulator() as simulator:
        simulator.network.faults.create_errors = [429, 500]
        call = service.place_call(db_session=session, to=RESIDENT, provider=adapter(simulator))
        session.commit()
        simulator.wait_idle()
        assert creates(simulator, "CreateCall") == 3
        assert len(simulator.network.calls) == 1
    assert session.scalar(select(func.count()).select_from(Call)) == 1
    session.expire_all()
    assert session.get(Call, call.id).status is CallStatus.completed


def test_a_call_or_sms_past_its_rate_slot_is_not_asked_of_the_provider(session):
    with running_simulator() as simulator:
        past = time.monotonic() - 0.001  # the slot's last moment has gone
        with pytest.raises(service.TooLate):
            service.place_call(
                db_session=session, to=RESIDENT, provider=adapter(simulator), ask_by=past
            )
        with pytest.raises(service.TooLate):
            service.send_sms(
                db_session=session,
                to=RESIDENT,
                body="Xin chào",
                provider=adapter(simulator),
                ask_by=past,
            )
        assert creates(simulator, "CreateCall") == 0 and simulator.network.calls == {}
        assert simulator.network.messages == {}
        # In time, the same call is placed.
        soon = time.monotonic() + 5
        service.place_call(
            db_session=session, to=RESIDENT, provider=adapter(simulator), ask_by=soon
        )
        session.commit()
        assert creates(simulator, "CreateCall") == 1
    assert session.scalar(select(func.count()).select_from(Call)) == 1


def test_a_provider_still_busy_after_every_try_is_no_contact_attempt(session):
    with running_simulator() as simulator:
        simulator.network.faults.create_errors = [429, 503, 429]
        with pytest.raises(ProviderUnavailable) as raised:
            service.place_call(db_session=session, to=RESIDENT, provider=adapter(simulator))
        assert raised.value.code == 20429
        assert simulator.network.calls == {}
    assert session.scalar(select(func.count()).select_from(Call)) == 0


def test_a_timeout_on_create_finds_the_call_instead_of_dialling_again(session):
    with running_simulator() as simulator:
        # The network makes the call but answers after the adapter has given up waiting.
        simulator.network.faults.slow_creates = 1
        simulator.network.faults.slow_create_seconds = 1.5
        provider = adapter(simulator, request_timeout_seconds=0.5)
        call = service.place_call(db_session=session, to=RESIDENT, provider=provider)
        session.commit()
        simulator.wait_idle()
        assert creates(simulator, "CreateCall") == 1
        assert len(simulator.network.calls) == 1
        assert call.sid in simulator.network.calls


def test_an_earlier_call_to_the_same_person_is_not_taken_for_the_timed_out_one(session):
    with running_simulator() as simulator:
        provider = adapter(simulator)
        earlier = service.place_call(db_session=session, to=RESIDENT, provider=provider)
        session.commit()
        simulator.wait_idle()
        for call in simulator.network.calls.values():
            # As if it had been placed a minute ago.
            call.date_created -= dt.timedelta(minutes=1)
        simulator.network.faults.slow_creates = 1
        simulator.network.faults.slow_create_seconds = 1.0
        # The first create times out and nothing recent is found: the retry is answered.
        second = adapter(simulator, request_timeout_seconds=0.3).place_call(
            to=RESIDENT,
            caller_id="+842873001234",
            answer_url="https://robocall.test/webhooks/twilio/voice",
            status_url="https://robocall.test/webhooks/twilio/status",
            machine_detection=False,
            amd_url=None,
            ring_timeout_seconds=30,
        )
        assert second.sid != earlier.sid


@pytest.mark.parametrize(
    ("to", "code"),
    [("+8412", ERROR_INVALID_NUMBER), ("+12025550123", ERROR_GEO_PERMISSION)],
)
def test_a_refused_destination_fails_with_its_code_and_no_retry(session, to, code):
    with running_simulator() as simulator:
        with pytest.raises(ProviderRejected) as raised:
            service.place_call(db_session=session, to=to, provider=adapter(simulator))
        assert raised.value.code == code
        assert raised.value.http_status == 400
        assert creates(simulator, "CreateCall") == 1
    assert session.scalar(select(func.count()).select_from(Call)) == 0


@pytest.mark.parametrize(
    ("to", "code"),
    [
        ("+842873005555", ERROR_NOT_SMS_CAPABLE),  # a Hồ Chí Minh City landline
        ("+12025550123", ERROR_NOT_PERMITTED),
    ],
)
def test_an_sms_the_network_refuses_fails_with_its_code(session, to, code):
    with running_simulator() as simulator:
        with pytest.raises(ProviderRejected) as raised:
            service.send_sms(
                db_session=session, to=to, body="Xin chào", provider=adapter(simulator)
            )
        assert raised.value.code == code
        assert creates(simulator, "CreateMessage") == 1


def test_an_sms_to_a_resident_who_replied_stop_fails_with_21610(session):
    with running_simulator() as simulator:
        simulator.run(
            simulator.network.inbound_sms(from_=RESIDENT, to="+842873001234", body="STOP")
        )
        with pytest.raises(ProviderRejected) as raised:
            service.send_sms(
                db_session=session, to=RESIDENT, body="Nhắc lịch", provider=adapter(simulator)
            )
        assert raised.value.code == ERROR_UNSUBSCRIBED
        assert creates(simulator, "CreateMessage") == 1


def test_hanging_up_a_ringing_call_cancels_it(session):
    personas = f'numbers: {{"{RESIDENT}": [{{answer: human, ring: 60}}]}}'
    with running_simulator(personas=personas, time_factor=0.05) as simulator:
        provider = adapter(simulator)
        call = service.place_call(
            db_session=session, to=RESIDENT, provider=provider, ring_timeout_seconds=90
        )
        session.commit()
        simulator.run(_until(simulator, call.sid, "ringing"))
        assert service.hang_up(call_sid=call.sid, provider=provider) is CallStatus.canceled
        simulator.wait_idle()
    session.expire_all()
    assert session.get(Call, call.id).status is CallStatus.canceled


async def _until(simulator, sid: str, status: str) -> None:
    import asyncio

    while simulator.network.calls[sid].status != status:
        await asyncio.sleep(0.01)


def test_a_timeout_on_sending_an_sms_finds_it_instead_of_sending_again(session):
    with running_simulator() as simulator:
        simulator.network.faults.slow_creates = 1
        simulator.network.faults.slow_create_seconds = 1.5
        provider = adapter(simulator, request_timeout_seconds=0.5)
        message = service.send_sms(db_session=session, to=RESIDENT, body="Nhắc", provider=provider)
        session.commit()
        simulator.wait_idle()
        assert creates(simulator, "CreateMessage") == 1
        assert list(simulator.network.messages) == [message.sid]
