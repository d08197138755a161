"""Hear a flow before a campaign uses it: one call through the simulator, as a resident would.

`robocall flows try` plays it against a throwaway database and Redis (`throwaway_state`), so a
trial leaves no report behind and pages nobody; with `--record` it writes to the real database,
and the alerts to duty numbers are still only recorded, never sent (`duty_alerts_withheld`).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, inspect, make_url, or_, select

from robocall.config import get_settings, reset_settings_cache
from robocall.db import Base, dispose_engine, get_engine, session_scope
from robocall.hotline.models import NotificationStatus, ReportNotification
from robocall.ivr.library import get_library
from robocall.simulator.embedded import build_network, start_simulator
from robocall.simulator.personas import Behaviour, Outcome, parse_personas
from robocall.telephony.service import HOTLINE_PATH, VOICE_PATH, place_call, webhook_url
from robocall.telephony.twilio_provider import TwilioProvider


class TryError(ValueError):
    """The request to try a flow cannot be done; the message names the option."""


@dataclass(frozen=True)
class WithheldMessage:
    """An SMS the trial call would have sent, not sent."""

    to: str
    body: str
    duty: bool  # an alert to a duty number about an urgent report


@dataclass(frozen=True)
class TriedCall:
    call_sid: str
    status: str
    lines: list[dict[str, Any]]  # the simulator's transcript
    withheld: list[WithheldMessage] = field(default_factory=list)
    # Jobs the call queued that were not run (in the throwaway Redis), by function name.
    jobs_not_run: list[str] = field(default_factory=list)


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


# --- trying safely ---------------------------------------------------------------------------

# What the alert rows of a `--record` trial say instead of being sent.
NOT_SENT = "not sent: a trial call (robocall flows try --record)"
_SANDBOXED = ("ROBOCALL_DATABASE_URL", "ROBOCALL_REDIS_URL")
_REDIS_START_TIMEOUT = 10.0  # seconds for the throwaway Redis server to answer


def try_flow_safely(
    *,
    flow: str,
    phone: str,
    app_factory: Callable[[], Any],
    press: str = "",
    say: list[str] | None = None,
    hangup_after: int | None = None,
    contact_id: int | None = None,
    record: bool = False,
) -> TriedCall:
    """`try_flow` as `robocall flows try` runs it: nothing real is written or sent.

    By default the call runs against a throwaway database and Redis server (`throwaway_state`)
    holding copies of the contacts it concerns, so it speaks and escalates as it would; the
    SMS it would send are returned, not sent. With `record`, it writes to the real database
    and queues its jobs as a real call would, except the alerts to duty numbers, which are
    recorded as not sent (`duty_alerts_withheld`).
    """
    options: dict[str, Any] = {
        "flow": flow,
        "phone": phone,
        "press": press,
        "say": say,
        "hangup_after": hangup_after,
        "contact_id": contact_id,
    }
    if record:
        with duty_alerts_withheld() as withheld:
            tried = try_flow(**options, app=app_factory())
        return replace(tried, withheld=list(withheld))
    people = _people_concerned(phone, contact_id)
    with throwaway_state():
        _copy_in(people)
        with duty_alerts_withheld() as withheld:
            tried = try_flow(**options, app=app_factory())
        sms, jobs = _queued_jobs()
    return replace(tried, withheld=[*withheld, *sms], jobs_not_run=jobs)


@contextmanager
def duty_alerts_withheld() -> Iterator[list[WithheldMessage]]:
    """While the block runs, this process stores every alert to a duty number as not sent
    (failed, with NOT_SENT as the error), so no worker sends it, whatever it finds queued;
    yields the alerts as they are written."""
    withheld: list[WithheldMessage] = []

    def hold(_mapper: Any, _connection: Any, alert: ReportNotification) -> None:
        alert.status = NotificationStatus.failed
        alert.error = NOT_SENT
        withheld.append(WithheldMessage(alert.to, alert.body, duty=True))

    event.listen(ReportNotification, "before_insert", hold)
    try:
        yield withheld
    finally:
        event.remove(ReportNotification, "before_insert", hold)


@contextmanager
def throwaway_state() -> Iterator[Path]:
    """For the length of the block, this process's database is an empty SQLite file with the
    schema, and its Redis a server of its own: jobs queued there are never run. Both are
    deleted afterwards, and the settings, engine and Redis client are as before."""
    import robocall.models  # noqa: F401  (the metadata of every table)

    saved = {name: os.environ.get(name) for name in _SANDBOXED}
    with tempfile.TemporaryDirectory(prefix="robocall-try-") as name:
        folder = Path(name)
        socket_path = folder / "redis.sock"
        server = _start_redis(folder, socket_path)
        try:
            os.environ["ROBOCALL_DATABASE_URL"] = f"sqlite:///{folder / 'try.sqlite3'}"
            os.environ["ROBOCALL_REDIS_URL"] = f"unix://{socket_path}"
            _forget_connections()
            Base.metadata.create_all(get_engine())
            yield folder
        finally:
            for variable, value in saved.items():
                if value is None:
                    os.environ.pop(variable, None)
                else:
                    os.environ[variable] = value
            _forget_connections()
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _forget_connections() -> None:
    from robocall.workers.connection import reset_redis

    reset_settings_cache()
    dispose_engine()
    reset_redis()


def _start_redis(folder: Path, socket_path: Path) -> subprocess.Popen[bytes]:
    """A Redis server of this process's own on a unix socket, gone with the folder."""
    from robocall.workers.embedded_redis import redis_server_binary

    server = subprocess.Popen(
        [
            redis_server_binary(),
            *("--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700"),
            *("--save", "", "--appendonly", "no", "--dir", str(folder)),
            *("--logfile", str(folder / "redis.log")),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + _REDIS_START_TIMEOUT
    while not socket_path.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            server.wait()
            raise TryError(f"a throwaway Redis server could not start; see {folder}/redis.log")
        time.sleep(0.005)
    return server


_Rows = list[tuple[Table, list[dict[str, Any]]]]


def _people_concerned(phone: str, contact_id: int | None) -> _Rows:
    """Copies of the contacts the call concerns (the one asked for; those with the number,
    whom the hotline recognises) and of their units up to the top, from the real database."""
    from robocall.contacts.models import Contact
    from robocall.contacts.phones import normalize_phone
    from robocall.units.models import Unit

    number = normalize_phone(phone)
    wanted = [Contact.id == contact_id] if contact_id is not None else []
    if number is not None:
        wanted.append(Contact.phone == number)
    if not wanted:
        return []
    contacts_table, units_table = Contact.__table__, Unit.__table__
    assert isinstance(contacts_table, Table) and isinstance(units_table, Table)
    database = make_url(get_settings().effective_database_url)
    if database.get_backend_name() == "sqlite" and not Path(database.database or "").exists():
        return []  # no database yet (and none is made here): nobody is known
    with session_scope() as db_session:
        if not inspect(db_session.connection()).has_table(contacts_table.name):
            return []  # no database yet: nobody is known
        contacts = [
            dict(row._mapping) | {"import_batch_id": None}
            for row in db_session.execute(select(contacts_table).where(or_(*wanted)))
        ]
        units: dict[int, dict[str, Any]] = {}
        missing = {c["unit_id"] for c in contacts if c["unit_id"] is not None}
        while missing:
            found = db_session.execute(
                select(units_table).where(units_table.c.id.in_(sorted(missing)))
            )
            units |= {row.id: dict(row._mapping) for row in found}
            missing = {u["parent_id"] for u in units.values() if u["parent_id"] is not None} - set(
                units
            )
    if contact_id is not None and all(c["id"] != contact_id for c in contacts):
        raise TryError(f"--contact: no contact #{contact_id}")

    def depth(unit: dict[str, Any]) -> int:
        parent = unit["parent_id"]
        return 0 if parent is None or parent not in units else 1 + depth(units[parent])

    ordered = sorted(units.values(), key=depth)  # parents before their children
    return [(units_table, ordered), (contacts_table, contacts)]


def _copy_in(rows: _Rows) -> None:
    with session_scope() as db_session:
        for table, values in rows:
            if values:
                db_session.execute(table.insert(), values)


def _queued_jobs() -> tuple[list[WithheldMessage], list[str]]:
    """The SMS to residents and the other jobs the call queued in the throwaway Redis (the
    duty alerts are known from their rows)."""
    from robocall.hotline.tasks import send_report_notification, send_resident_sms
    from robocall.workers.queues import QUEUE_NAMES, get_queue

    messages: list[WithheldMessage] = []
    jobs: list[str] = []
    for name in QUEUE_NAMES:
        for job in get_queue(name).get_jobs():
            if job.func_name == _dotted(send_report_notification):
                continue
            if job.func_name == _dotted(send_resident_sms) and len(job.args) >= 2:
                messages.append(WithheldMessage(str(job.args[0]), str(job.args[1]), duty=False))
            else:
                jobs.append(str(job.func_name))
    return messages, jobs


def _dotted(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{func.__qualname__}"
