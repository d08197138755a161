"""A call and an SMS through the real Twilio adapter against the simulator: every callback
arrives signed and is stored."""

from __future__ import annotations

from sqlalchemy import func, select

from robocall.config import reset_settings_cache
from robocall.runtime import embedded_simulator, stop_embedded_simulator
from robocall.telephony import service
from robocall.telephony.base import AnsweredBy, CallEventKind, CallStatus, MessageStatus
from robocall.telephony.messages import Message, MessageDirection, SmsEncoding
from robocall.telephony.models import Call, CallEvent
from robocall.telephony.provider import reset_provider
from tests.simulator.harness import adapter, running_simulator, serving_app

RESIDENT = "+84912345678"
PERSONAS = f"""
numbers:
  "{RESIDENT}": [{{answer: human, press: "2"}}]
  "+84362345678": [no_answer]
  "+84389998877": [machine]
"""


def test_a_call_runs_its_whole_life_and_every_callback_is_stored(session):
    with running_simulator(personas=PERSONAS) as simulator:
        call = service.place_call(
            db_session=session,
            to=RESIDENT,
            provider=adapter(simulator),
            ring_timeout_seconds=30,
            answer_url=service.webhook_url(service.VOICE_PATH, {"flow": "f1_tracing"}),
        )
        session.commit()
        sid = call.sid
        simulator.wait_idle()
        lines = simulator.network.transcripts.get(sid)

    session.expire_all()
    stored = session.scalar(select(Call).where(Call.sid == sid))
    assert stored is not None
    assert stored.status is CallStatus.completed
    assert stored.answered_by is AnsweredBy.human
    assert stored.to_number == RESIDENT
    assert stored.answered_at is not None and stored.ended_at is not None
    # robocall asks for the answered and completed events only.
    assert stored.last_sequence_number == 1
    events = session.scalars(
        select(CallEvent).where(CallEvent.call_id == stored.id).order_by(CallEvent.id)
    ).all()
    statuses = [e.status for e in events if e.kind is CallEventKind.status]
    assert statuses == [CallStatus.in_progress, CallStatus.completed]
    assert [e.sequence_number for e in events if e.kind is CallEventKind.status] == [0, 1]
    amd = [e for e in events if e.kind is CallEventKind.amd]
    assert len(amd) == 1 and amd[0].fields["AnsweredBy"] == "human"
    # Each callback was signed: the webhooks answer 403 to anything else.
    callbacks = [line for line in lines if line["kind"] == "callback"]
    assert len(callbacks) == 3  # answered, answered by a human, completed
    assert {line["answer"] for line in callbacks} == {"204"}
    # The resident heard the greeting, pressed 2 (wrong number), and heard the apology.
    kinds = [(line["kind"], line["text"]) for line in lines]
    assert ("press", "2") in kinds
    said = [text for kind, text in kinds if kind == "say"]
    assert said[0].startswith("Xin chào. Đây là cuộc gọi tự động của Trung tâm Y tế")
    assert said[-1].startswith("Xin lỗi đã làm phiền anh chị.")


def test_unanswered_and_voicemail_calls_end_as_the_resident_behaved(session):
    with running_simulator(personas=PERSONAS) as simulator:
        provider = adapter(simulator)
        silent = service.place_call(
            db_session=session, to="+84362345678", provider=provider, ring_timeout_seconds=20
        )
        voicemail = service.place_call(db_session=session, to="+84389998877", provider=provider)
        session.commit()
        simulator.wait_idle()
    session.expire_all()
    silent_call = session.scalar(select(Call).where(Call.sid == silent.sid))
    voicemail_call = session.scalar(select(Call).where(Call.sid == voicemail.sid))
    assert silent_call is not None and voicemail_call is not None
    assert silent_call.status is CallStatus.no_answer
    assert silent_call.answered_at is None
    assert voicemail_call.status is CallStatus.completed
    assert voicemail_call.answered_by is AnsweredBy.machine


def test_an_sms_is_sent_then_delivered_and_stored(session):
    with running_simulator() as simulator:
        message = service.send_sms(
            db_session=session,
            to=RESIDENT,
            body="Trung tâm y tế: bạn là F1, xin ở nhà và theo dõi sức khỏe.",
            provider=adapter(simulator),
        )
        session.commit()
        sid = message.sid
        simulator.wait_idle()
        lines = simulator.network.transcripts.get(sid)
    session.expire_all()
    stored = session.scalar(select(Message).where(Message.sid == sid))
    assert stored is not None
    assert stored.direction is MessageDirection.outbound
    assert stored.status is MessageStatus.delivered
    assert stored.encoding is SmsEncoding.ucs2
    assert stored.segments == 1
    assert stored.sent_at is not None and stored.delivered_at is not None
    assert [(line["text"], line["answer"]) for line in lines] == [
        ("sms-status sent", "204"),
        ("sms-status delivered", "204"),
    ]


def test_an_sms_to_an_unreachable_phone_ends_undelivered_with_the_error_code(session):
    personas = 'numbers: {"+84987654321": [failed]}'
    with running_simulator(personas=personas) as simulator:
        message = service.send_sms(
            db_session=session, to="+84987654321", body="Hello", provider=adapter(simulator)
        )
        session.commit()
        simulator.wait_idle()
    session.expire_all()
    stored = session.scalar(select(Message).where(Message.sid == message.sid))
    assert stored is not None
    assert stored.status is MessageStatus.undelivered
    assert stored.error_code == 30003
    assert stored.encoding is SmsEncoding.gsm7


def test_webhooks_reach_a_running_server_over_http_signed_for_the_public_url(session):
    with serving_app() as app_url, running_simulator(app_url=app_url) as simulator:
        call = service.place_call(db_session=session, to=RESIDENT, provider=adapter(simulator))
        session.commit()
        simulator.wait_idle()
        lines = simulator.network.transcripts.get(call.sid)
    assert {line["answer"] for line in lines if line["kind"] == "callback"} == {"204"}
    session.expire_all()
    assert session.get(Call, call.id).status is CallStatus.completed


def test_the_configured_provider_starts_an_in_process_simulator(session, monkeypatch):
    monkeypatch.setenv("ROBOCALL_SIMULATOR_TIME_FACTOR", "0.001")
    monkeypatch.setenv("ROBOCALL_SIMULATOR_CPS", "100")
    reset_settings_cache()
    reset_provider()
    try:
        call = service.place_call(db_session=session, to=RESIDENT)
        session.commit()
        embedded_simulator().wait_idle()
        session.expire_all()
        assert session.get(Call, call.id).status is CallStatus.completed
        assert embedded_simulator().url.startswith("http://127.0.0.1:")
    finally:
        stop_embedded_simulator()
        monkeypatch.undo()
        reset_settings_cache()
        reset_provider()


def test_an_sms_to_a_number_no_carrier_serves_fails_with_the_error_code(session):
    # An old 012x mobile number, retired when Vietnam moved to ten-digit numbers.
    with running_simulator() as simulator:
        message = service.send_sms(
            db_session=session, to="+84123456789", body="Hello", provider=adapter(simulator)
        )
        session.commit()
        simulator.wait_idle()
    session.expire_all()
    stored = session.scalar(select(Message).where(Message.sid == message.sid))
    assert stored is not None
    assert stored.status is MessageStatus.failed
    assert stored.error_code == 30006


def test_a_call_whose_callbacks_were_lost_is_brought_up_to_date(session):
    with running_simulator(personas=PERSONAS) as simulator:
        provider = adapter(simulator)
        placed = provider.place_call(
            to=RESIDENT,
            caller_id="+842873001234",
            answer_url=service.webhook_url(service.VOICE_PATH),
            status_url="https://robocall.test/webhooks/twilio/lost",  # answers 404
            machine_detection=False,
            amd_url=None,
            ring_timeout_seconds=30,
        )
        simulator.wait_idle()
        assert service.get_call(db_session=session, call_sid=placed.sid) is None
        call = service.refresh_call(db_session=session, call_sid=placed.sid, provider=provider)
        session.commit()
        # Refreshing again changes nothing and stores nothing new.
        service.refresh_call(db_session=session, call_sid=placed.sid, provider=provider)
        session.commit()
        recent = service.recent_calls_to(
            to=RESIDENT, since=placed.created_at or call.created_at, provider=provider
        )
    assert call.status is CallStatus.completed
    assert call.duration_seconds is not None and call.duration_seconds > 0
    assert call.answered_at is not None
    assert session.scalar(select(func.count()).select_from(CallEvent)) == 1
    assert [c.sid for c in recent] == [placed.sid]
