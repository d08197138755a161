"""Provider webhooks replayed from captured Twilio requests: signatures, duplicates, order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from robocall.config import get_settings
from robocall.telephony.base import AnsweredBy, CallStatus, MessageStatus
from robocall.telephony.messages import Message, MessageDirection
from robocall.telephony.models import Call, CallEvent
from robocall.telephony.signature import compute_signature
from robocall.web.app import create_app

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads"
CALL_SID = "CAa1b2c3d4e5f60718293a4b5c6d7e8f90"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))
    return data


def sign(path: str, form: dict[str, str], token: str | None = None) -> str:
    settings = get_settings()
    secret = token or settings.twilio_auth_token.get_secret_value()
    return compute_signature(secret, settings.public_url + path, form)


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app())


def deliver(client: TestClient, name: str, **changes: str) -> int:
    sample = payload(name)
    form = {**sample["form"], **changes}
    headers = {"X-Twilio-Signature": sign(sample["path"], form)}
    return client.post(sample["path"], data=form, headers=headers).status_code


def count(session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(
    "name",
    [
        "call_status_ringing",
        "call_status_completed",
        "amd_machine",
        "recording_completed",
        "sms_status_undelivered",
        "sms_inbound",
    ],
)
def test_forged_or_missing_signatures_get_403_and_store_nothing(client, session, name):
    sample = payload(name)
    path, form = sample["path"], sample["form"]
    missing = client.post(path, data=form)
    wrong_token = client.post(
        path, data=form, headers={"X-Twilio-Signature": sign(path, form, token="not-the-token")}
    )
    tampered = dict(form, To="+84999999999")
    replayed = client.post(path, data=tampered, headers={"X-Twilio-Signature": sign(path, form)})
    # Signed for the internal address, not the public one the provider was given.
    internal = compute_signature(
        get_settings().twilio_auth_token.get_secret_value(), "http://testserver" + path, form
    )
    behind_proxy = client.post(path, data=form, headers={"X-Twilio-Signature": internal})
    assert [r.status_code for r in (missing, wrong_token, replayed, behind_proxy)] == [403] * 4
    assert count(session, Call) == 0
    assert count(session, CallEvent) == 0
    assert count(session, Message) == 0


def test_a_signed_status_callback_is_stored(client, session):
    assert deliver(client, "call_status_completed") == 204
    call = session.scalar(select(Call).where(Call.sid == CALL_SID))
    assert call is not None
    assert call.status is CallStatus.completed
    assert call.duration_seconds == 48
    assert call.to_number == "+84912345678"
    assert call.last_sequence_number == 3


def test_duplicate_callbacks_are_stored_once(client, session):
    for _ in range(3):
        assert deliver(client, "call_status_ringing") == 204
    assert count(session, CallEvent) == 1
    call = session.scalar(select(Call).where(Call.sid == CALL_SID))
    assert call is not None and call.status is CallStatus.ringing


def test_a_late_ringing_never_overwrites_completed(client, session):
    assert deliver(client, "call_status_completed") == 204
    assert deliver(client, "call_status_ringing") == 204
    call = session.scalar(select(Call).where(Call.sid == CALL_SID))
    assert call is not None
    assert call.status is CallStatus.completed
    assert call.duration_seconds == 48
    events = session.scalars(select(CallEvent).order_by(CallEvent.id)).all()
    # Both are kept as evidence; only the first moved the call.
    assert [(e.status, e.applied) for e in events] == [
        (CallStatus.completed, True),
        (CallStatus.ringing, False),
    ]


def test_the_answering_machine_result_is_recorded(client, session):
    assert deliver(client, "call_status_ringing") == 204
    assert deliver(client, "amd_machine") == 204
    assert deliver(client, "amd_machine") == 204
    call = session.scalar(select(Call).where(Call.sid == CALL_SID))
    assert call is not None and call.answered_by is AnsweredBy.machine
    assert count(session, CallEvent) == 2


def test_a_recording_callback_is_kept_with_its_url(client, session):
    assert deliver(client, "recording_completed") == 204
    event = session.scalar(select(CallEvent))
    assert event is not None
    assert event.fields["RecordingDuration"] == "9"
    assert event.fields["RecordingUrl"].endswith("RE0f1e2d3c4b5a69788796a5b4c3d2e1f0")


def test_sms_status_moves_forward_only(client, session):
    assert deliver(client, "sms_status_undelivered") == 204
    assert deliver(client, "sms_status_undelivered", MessageStatus="sent", SmsStatus="sent") == 204
    message = session.scalar(select(Message))
    assert message is not None
    assert message.status is MessageStatus.undelivered
    assert message.error_code == 30003


def test_an_inbound_sms_is_stored_once(client, session):
    for _ in range(2):
        assert deliver(client, "sms_inbound") == 200
    messages = session.scalars(select(Message)).all()
    assert len(messages) == 1
    assert messages[0].direction is MessageDirection.inbound
    assert messages[0].body == "KHOE"
    assert messages[0].from_number == "+84912345678"


def test_a_callback_without_call_sid_is_refused_by_name(client, session):
    sample = payload("call_status_ringing")
    form = {k: v for k, v in sample["form"].items() if k != "CallSid"}
    response = client.post(
        sample["path"], data=form, headers={"X-Twilio-Signature": sign(sample["path"], form)}
    )
    assert response.status_code == 400
    assert "CallSid" in response.json()["detail"]
    assert count(session, Call) == 0


def test_an_unknown_call_status_is_refused_by_name(client, session):
    assert deliver(client, "call_status_ringing", CallStatus="exploded") == 400
    assert count(session, CallEvent) == 0
