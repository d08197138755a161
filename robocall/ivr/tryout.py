"""Hear a flow before a campaign uses it: one call through the simulator, as a resident would."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from robocall.config import get_settings
from robocall.db import session_scope
from robocall.ivr.library import get_library
from robocall.simulator.embedded import build_network, start_simulator
from robocall.simulator.personas import Behaviour, Outcome, parse_personas
from robocall.telephony.service import HOTLINE_PATH, VOICE_PATH, place_call, webhook_url
from robocall.telephony.twilio_provider import TwilioProvider


class TryError(ValueError):
    """The request to try a flow cannot be done; the message names the option."""


@dataclass(frozen=True)
class TriedCall:
    call_sid: str
    status: str
    lines: list[dict[str, Any]]  # the simulator's transcript


def _behaviour(
    phone: str, press: str, say: list[str], hangup_after: int | None
) -> tuple[str, Behaviour]:
    try:
        personas = parse_personas(json.dumps({"numbers": {phone: [{"press": press or None}]}}))
    except ValueError as exc:
        raise TryError(f"--to/--press: {exc}") from None
    number, behaviours = next(iter(personas.numbers.items()))
    return number, Behaviour(
        Outcome.human,
        press=behaviours[0].press,
        say=tuple(say),
        hangup_after=hangup_after,
        talk_seconds=behaviours[0].talk_seconds,
    )


def try_flow(
    *,
    flow: str,
    phone: str,
    press: str = "",
    say: list[str] | None = None,
    hangup_after: int | None = None,
    contact_id: int | None = None,
    app: Any = None,
    app_url: str | None = None,
) -> TriedCall:
    """Play `flow` to a simulated resident at `phone` who presses `press`; return the transcript.

    Outbound flows are dialled through the Twilio adapter against a simulator on 127.0.0.1;
    inbound flows (the hotline) are called by the resident. Webhooks reach `app` in-process,
    signed as over the network, or the server at `app_url`.
    """
    library = get_library()
    if flow not in library.flows:
        known = ", ".join(sorted(library.flows)) or "none"
        raise TryError(f"FLOW: no flow {flow!r} (known: {known})")
    if library.flow_problems.get(flow):
        raise TryError(f"FLOW: {flow} has problems; run `robocall content check`")
    number, behaviour = _behaviour(phone, press, say or [], hangup_after)
    direction = library.flows[flow].direction
    settings = get_settings()
    if direction == "inbound":
        network = build_network(
            app=app, app_url=app_url, voice_path=f"{HOTLINE_PATH}?flow={flow}", time_factor=0.0
        )

        async def run() -> tuple[str, str]:
            try:
                placed = await network.inbound_call(
                    from_=number, to=settings.hotline_number, behaviour=behaviour
                )
                await asyncio.wait_for(placed.done.wait(), timeout=600)
                await network.idle()
                return placed.sid, placed.status
            finally:
                await network.close()

        sid, status = asyncio.run(run())
        return TriedCall(sid, status, network.transcripts.get(sid) or [])

    personas = parse_personas(json.dumps({"numbers": {number: [{"answer": "human"}]}}))
    personas.numbers[number] = [behaviour]
    server = start_simulator(
        build_network(app=app, app_url=app_url, personas=personas, time_factor=0.0)
    )
    try:
        provider = TwilioProvider(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            api_base_url=server.url,
        )
        query = {"flow": flow} | ({"contact": str(contact_id)} if contact_id else {})
        with session_scope() as session:
            call = place_call(
                db_session=session,
                to=number,
                answer_url=webhook_url(VOICE_PATH, query),
                machine_detection=False,
                provider=provider,
            )
            sid = call.sid
        server.wait_idle(timeout=120)
        lines = server.network.transcripts.get(sid) or []
        status = next((str(x["text"]) for x in reversed(lines) if x.get("kind") == "end"), "")
        return TriedCall(sid, status.removeprefix("call "), lines)
    finally:
        server.stop()
