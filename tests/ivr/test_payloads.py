"""Provider payloads as Twilio sends them (every field it posts), replayed and signed."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from robocall.ivr.models import CallSession
from tests.ivr.driver import gather_path, signed_post

PAYLOADS = Path(__file__).parent.parent / "payloads"


def _payload(name: str) -> dict[str, str]:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def test_twilio_answer_then_keypad_then_speech_payloads(client, session):
    answer = signed_post(
        client,
        "/webhooks/twilio/voice?flow=f1_tracing",
        _payload("twilio_voice_outbound_answer.json"),
    )
    assert answer.status_code == 200
    confirmed = signed_post(client, gather_path(answer.text), _payload("twilio_gather_digits.json"))
    assert "sốt" in confirmed.text
    spoken = signed_post(client, gather_path(confirmed.text), _payload("twilio_gather_speech.json"))
    assert "ho" in spoken.text
    call = session.scalar(select(CallSession))
    assert call.phone == "+84901234567"
    assert [(a.node, a.key, a.speech, a.value) for a in call.answers] == [
        ("confirm_person", "1", None, "yes"),
        ("fever", None, "Dạ không có ạ.", "no"),
    ]
