"""The answer URL of outbound calls until the IVR engine serves its flows here.

Kept apart on purpose: the IVR replaces this router with its own `/webhooks/twilio/voice`.
It answers with valid TwiML (Say, Gather, Hangup) so the whole call path can be exercised.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from twilio.twiml.voice_response import VoiceResponse

from robocall.telephony.service import VOICE_PATH, webhook_url
from robocall.web.webhook_auth import signed_form

router = APIRouter(tags=["provider webhooks"])

LANGUAGE = "vi-VN"
GREETING = "Xin chào, đây là cuộc gọi của trung tâm y tế. Xin bấm một phím bất kỳ."
THANKS = "Cảm ơn. Tạm biệt."


def _twiml(response: VoiceResponse) -> Response:
    return Response(content=str(response), media_type="application/xml")


@router.post(VOICE_PATH)
def answer_call(form: dict[str, str] = Depends(signed_form)) -> Response:
    """Greet the resident and wait for one key."""
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf", num_digits=1, timeout=5, action=webhook_url(f"{VOICE_PATH}/gathered")
    )
    gather.say(GREETING, language=LANGUAGE)
    response.say(THANKS, language=LANGUAGE)
    response.hangup()
    return _twiml(response)


@router.post(f"{VOICE_PATH}/gathered")
def key_pressed(form: dict[str, str] = Depends(signed_form)) -> Response:
    """Thank the resident and hang up."""
    response = VoiceResponse()
    response.say(THANKS, language=LANGUAGE)
    response.hangup()
    return _twiml(response)
