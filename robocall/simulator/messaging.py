"""SMS on the simulated network: sending (CreateMessage), delivery reports, inbound texts."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import phonenumbers

from robocall.simulator.delivery import WebhookDelivery, WebhookTimeout
from robocall.simulator.faults import Faults
from robocall.simulator.personas import Outcome, Personas
from robocall.simulator.resources import (
    API_VERSION,
    NumberConfig,
    SimMessage,
    SimulatorError,
    country_of,
    new_sid,
    now,
    required_text,
)
from robocall.telephony.segments import sms_segments

# Replies that opt a resident out of (or back into) SMS from a number, as Twilio handles them.
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
START_WORDS = {"START", "YES", "UNSTOP"}


class Messaging:
    """The SMS half of the network (mixed into `Network`)."""

    account_sid: str
    personas: Personas
    numbers: dict[str, NumberConfig]
    allowed_countries: frozenset[str]
    messages: dict[str, SimMessage]
    delivery: WebhookDelivery
    requests: deque[tuple[str, dict[str, Any]]]
    _attempts: dict[str, int]
    _unsubscribed: set[tuple[str, str]]
    faults: Faults

    if TYPE_CHECKING:

        def seconds(self, simulated: float) -> float: ...

        def spawn(self, coroutine: Any) -> asyncio.Task[Any]: ...

        async def _create_faults(self) -> None: ...

        async def post_callback(
            self, sid: str, kind: str, url: str, method: str, params: Mapping[str, str]
        ) -> str: ...

    async def create_message(self, form: Mapping[str, Any]) -> SimMessage:
        """CreateMessage: validate like Twilio, queue the SMS, then deliver it."""
        self.requests.append(("CreateMessage", dict(form)))
        await self._create_faults()
        to = required_text(form, "To", 21604, "A 'To' phone number is required.")
        body = form.get("Body") or ""
        service = form.get("MessagingServiceSid") or None
        from_ = form.get("From") or None
        if not from_ and not service:
            raise SimulatorError(400, 21603, "A 'From' or 'MessagingServiceSid' is required.")
        if not body:
            raise SimulatorError(400, 21602, "Message body is required.")
        if len(body) > 1600:
            raise SimulatorError(
                400, 21617, "The concatenated message body exceeds 1600 characters."
            )
        try:
            parsed = phonenumbers.parse(to, None)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or not phonenumbers.is_possible_number(parsed):
            raise SimulatorError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if phonenumbers.region_code_for_number(parsed) not in self.allowed_countries:
            raise SimulatorError(
                400, 21408, f"Permission to send an SMS has not been enabled for the region {to}"
            )
        if phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.FIXED_LINE:
            raise SimulatorError(400, 21614, f"'To' number {to} is not a valid mobile number")
        sender = from_ or self._service_number()
        if (to, sender) in self._unsubscribed:
            raise SimulatorError(400, 21610, "Attempt to send to unsubscribed recipient")
        message = SimMessage(
            sid=new_sid("SM"),
            account_sid=self.account_sid,
            to=to,
            from_=sender,
            body=body,
            direction="outbound-api",
            segments=sms_segments(body),
            messaging_service_sid=service,
            status_callback=form.get("StatusCallback") or None,
            status="accepted" if service else "queued",
        )
        self.messages[message.sid] = message
        self.spawn(self._deliver_sms(message))
        if self.faults.slow_creates > 0:
            # As for calls: the message is on its way, the answer to the create comes late.
            self.faults.slow_creates -= 1
            await asyncio.sleep(self.faults.slow_create_seconds)
        return message

    def fetch_message(self, sid: str) -> SimMessage:
        self.requests.append(("FetchMessage", {"Sid": sid}))
        message = self.messages.get(sid)
        if message is None:
            raise SimulatorError(404, 20404, f"The requested resource Messages/{sid} was not found")
        return message

    def list_messages(self, filters: Mapping[str, str]) -> list[SimMessage]:
        self.requests.append(("ListMessage", dict(filters)))
        found = [
            m
            for m in self.messages.values()
            if (not filters.get("To") or m.to == filters["To"])
            and (not filters.get("From") or m.from_ == filters["From"])
        ]
        return sorted(found, key=lambda m: m.date_created, reverse=True)

    async def _deliver_sms(self, message: SimMessage) -> None:
        await asyncio.sleep(self.seconds(1.0))
        message.status = "sent"
        message.date_sent = message.date_updated = now()
        await self._sms_callback(message)
        await asyncio.sleep(self.seconds(2.0))
        behaviour = self.personas.behaviour(message.to, self._attempts[message.to])
        parsed = phonenumbers.parse(message.to, None)
        if not phonenumbers.is_valid_number(parsed):
            message.status, message.error_code = "failed", 30006
            message.error_message = "Landline or unreachable carrier"
        elif behaviour.outcome is Outcome.failed:
            message.status, message.error_code = "undelivered", 30003
            message.error_message = "Unreachable destination handset"
        else:
            message.status = "delivered"
        message.date_updated = now()
        await self._sms_callback(message)

    async def _sms_callback(self, message: SimMessage) -> None:
        if not message.status_callback:
            return
        params = {
            "AccountSid": message.account_sid,
            "ApiVersion": API_VERSION,
            "From": message.from_ or "",
            "MessageSid": message.sid,
            "MessageStatus": message.status,
            "SmsSid": message.sid,
            "SmsStatus": message.status,
            "To": message.to,
        }
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if message.error_code is not None:
            params["ErrorCode"] = str(message.error_code)
        await self.post_callback(message.sid, "sms-status", message.status_callback, "POST", params)

    async def inbound_sms(self, *, from_: str, to: str, body: str) -> dict[str, Any]:
        """A resident texts one of our numbers: the network posts it to the number's SMS URL."""
        config = self.numbers.get(to)
        if config is None or not config.sms_url:
            raise SimulatorError(404, 20404, f"{to} is not a number of this account")
        message = SimMessage(
            sid=new_sid("SM"),
            account_sid=self.account_sid,
            to=to,
            from_=from_,
            body=body,
            direction="inbound",
            segments=sms_segments(body),
            status="received",
        )
        self.messages[message.sid] = message
        word = body.strip().upper()
        if word in STOP_WORDS:
            self._unsubscribed.add((from_, to))
        elif word in START_WORDS:
            self._unsubscribed.discard((from_, to))
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "Body": body,
            "From": from_,
            "FromCountry": country_of(from_),
            "MessageSid": message.sid,
            "NumMedia": "0",
            "NumSegments": str(message.segments),
            "SmsMessageSid": message.sid,
            "SmsSid": message.sid,
            "SmsStatus": "received",
            "To": to,
            "ToCountry": country_of(to),
        }
        try:
            answer = await self.delivery.send("POST", config.sms_url, params)
        except WebhookTimeout:
            return {"sid": message.sid, "answer": "timeout", "replies": []}
        except Exception as exc:  # the app is down or refused the connection
            return {"sid": message.sid, "answer": f"error ({exc})", "replies": []}
        replies = _replies(answer.text) if answer.status_code < 300 else []
        for text in replies:
            reply = SimMessage(
                sid=new_sid("SM"),
                account_sid=self.account_sid,
                to=from_,
                from_=to,
                body=text,
                direction="outbound-reply",
                segments=sms_segments(text),
                status="delivered",
                date_sent=now(),
            )
            self.messages[reply.sid] = reply
        return {"sid": message.sid, "answer": str(answer.status_code), "replies": replies}

    def _service_number(self) -> str:
        """The number a Messaging Service sends from: the account's first."""
        return next(iter(self.numbers), "")


def _replies(twiml: str) -> list[str]:
    """The SMS replies in a messaging TwiML answer (<Message>text</Message>)."""
    if not twiml.strip():
        return []
    try:
        root = ET.fromstring(twiml.strip())
    except ET.ParseError:
        return []
    replies = []
    for element in root.iter("Message"):
        body = element.find("Body")
        text = (body.text if body is not None else element.text) or ""
        if text.strip():
            replies.append(text.strip())
    return replies
