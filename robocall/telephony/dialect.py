"""How the provider in use writes call scripts and what it posts during a call.

Twilio and the simulator speak TwiML and post Twilio's form fields. Another provider adds
its own dialect here; the IVR only ever sees `CallScript` and `CallerTurn`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from robocall.telephony.twiml import render_twiml
from robocall.telephony.voice import CallerTurn, CallScript, MissingCallField


class CallDialect(Protocol):
    @property
    def media_type(self) -> str:
        """The content type of its documents."""
        ...

    def render(self, script: CallScript) -> str:
        """The document the provider follows next on the call."""
        ...

    def turn(self, form: Mapping[str, str]) -> CallerTurn:
        """What the provider posted: the call, its numbers, and the caller's answer."""
        ...


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _int(value: str | None) -> int:
    try:
        return int(value) if value else 0
    except ValueError:
        return 0


@dataclass(frozen=True)
class TwilioDialect:
    media_type: str = "application/xml"

    def render(self, script: CallScript) -> str:
        return render_twiml(script)

    def turn(self, form: Mapping[str, str]) -> CallerTurn:
        call_sid = form.get("CallSid", "")
        if not call_sid:
            raise MissingCallField("CallSid")
        return CallerTurn(
            call_sid=call_sid,
            from_number=form.get("From", ""),
            to_number=form.get("To", ""),
            digits=form.get("Digits", ""),
            speech=form.get("SpeechResult", ""),
            confidence=_float(form.get("Confidence")),
            recording_url=form.get("RecordingUrl", ""),
            recording_seconds=_int(form.get("RecordingDuration")),
            # Twilio writes "no-answer"; robocall's words use underscores.
            transfer_status=form.get("DialCallStatus", "").replace("-", "_"),
        )


TWILIO = TwilioDialect()


def call_dialect() -> CallDialect:
    """The dialect of ROBOCALL_TELEPHONY: twilio, or the simulator, which speaks Twilio's
    (the only ones today; a second provider is chosen here by the setting)."""
    return TWILIO
