"""The composition root: what every robocall process is made of, in one readable place.

Each entry point calls `wire()` once: `robocall serve` (through `create_app`), `worker`,
`scheduler`, `demo`, the CLI commands that run campaigns, and the test suite's fixture.
Domain modules register nothing themselves at import time; this module lists every event
subscription, IVR effect, contact lookup, SMS sender and periodic job.
"""

from __future__ import annotations

import datetime as dt
import threading

from fastapi import FastAPI
from sqlalchemy.orm import Session

from robocall.campaigns import outcomes
from robocall.campaigns.scheduled import JOBS as CAMPAIGN_JOBS
from robocall.config import get_settings
from robocall.db import session_scope
from robocall.exports.scheduled import JOBS as EXPORT_JOBS
from robocall.hotline import notify
from robocall.hotline.scheduled import JOBS as HOTLINE_JOBS
from robocall.importers.scheduled import JOBS as UPLOAD_JOBS
from robocall.ivr import service as ivr
from robocall.ivr.contacts import contact_by_id, contact_by_phone
from robocall.kit.masking import configure_logging
from robocall.privacy.scheduled import JOBS as PRIVACY_JOBS
from robocall.simulator.embedded import SimulatorServer, build_network, start_simulator
from robocall.sms.inbound import handle_inbound_sms
from robocall.telephony import provider
from robocall.telephony import service as telephony
from robocall.telephony.base import CallEventData
from robocall.telephony.models import Call
from robocall.web.app import create_app, ready_to_serve
from robocall.workers.periodic import HEARTBEAT, register

PERIODIC_JOBS = (
    HEARTBEAT,
    *CAMPAIGN_JOBS,
    *HOTLINE_JOBS,
    *UPLOAD_JOBS,
    *EXPORT_JOBS,
    *PRIVACY_JOBS,
)


def wire(*, sms_sender: bool = True) -> None:
    """Connect the domains in this process (idempotent).

    `sms_sender=False` (the web app) leaves duty alerts to the development outbox unless a
    sender is set: webhooks never send SMS themselves; jobs do, in workers.
    """
    # A call's final status first ends its IVR session (applying what the caller chose, such
    # as an opt-out), then settles the campaign attempt it belongs to.
    telephony.on_call_event(end_ivr_session)
    telephony.on_call_event(outcomes.on_call_event)
    telephony.on_inbound_sms(handle_inbound_sms)
    ivr.clear_effect_handlers("mark_wrong_number")
    ivr.clear_effect_handlers("opt_out")
    ivr.register_effect_handler("mark_wrong_number", outcomes.on_wrong_number)
    ivr.register_effect_handler("opt_out", outcomes.on_opt_out)
    ivr.set_contact_lookups(by_phone=contact_by_phone, by_id=contact_by_id)
    if sms_sender:
        notify.set_sms_sender(send_through_provider)
        notify.set_sent_lookup(sent_through_provider)
    provider.set_simulator_url(lambda: embedded_simulator().url)
    for job in PERIODIC_JOBS:
        register(job)


def end_ivr_session(db_session: Session, call: Call, _event: CallEventData) -> None:
    """A call's final status closes its IVR session (a caller who hung up keeps their answers)."""
    if call.is_final:
        ivr.end_call(db_session=db_session, call_sid=call.sid)


def send_through_provider(*, to: str, body: str) -> str:
    """The hotline's SMS sender: the real provider, recorded as a Message."""
    with session_scope() as db_session:
        return telephony.send_sms(db_session=db_session, to=to, body=body).sid


def sent_through_provider(*, to: str, body: str, since: dt.datetime) -> str | None:
    """Whether the provider sent this alert after all (a worker died while sending it)."""
    return telephony.sent_sms_since(to=to, body=body, since=since)


def served_app() -> FastAPI:
    """The application as `robocall serve` runs it (uvicorn's factory in each worker)."""
    # uvicorn's worker processes start afresh (spawned), after uvicorn set up its own logging:
    # mask personal data in their logs as `robocall serve` does in its own.
    configure_logging(get_settings().log_level)
    wire(sms_sender=False)
    app = create_app()
    ready_to_serve()
    return app


_lock = threading.Lock()
_embedded: SimulatorServer | None = None


def embedded_simulator() -> SimulatorServer:
    """This process's simulator, started on first use, reaching the web app in-process."""
    global _embedded
    with _lock:
        if _embedded is None or not _embedded.thread.is_alive():
            _embedded = start_simulator(build_network(app=create_app()))
        return _embedded


def stop_embedded_simulator() -> None:
    """Stop this process's simulator, if one was started (tests, shutdown)."""
    global _embedded
    with _lock:
        if _embedded is not None:
            _embedded.stop()
        _embedded = None
