"""A person's own data, given to them on request: everything robocall holds about a number."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import String, or_, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from robocall.contacts.models import Contact, OptOut
from robocall.contacts.service import contact_json
from robocall.db import utcnow
from robocall.hotline.models import HotlineReport
from robocall.ivr.models import CallAnswer, CallSession
from robocall.telephony.messages import Message
from robocall.telephony.models import Call
from robocall.units.models import Unit

LEGAL_BASIS = (
    "Luật Bảo vệ dữ liệu cá nhân số 91/2025/QH15; Nghị định 13/2023/NĐ-CP "
    "(Law 91/2025/QH15 on personal data protection; Decree 13/2023/ND-CP)"
)

_CALL_FIELDS = (
    "sid",
    "direction",
    "from_number",
    "to_number",
    "status",
    "answered_by",
    "duration_seconds",
    "created_at",
    "answered_at",
    "ended_at",
)
_SESSION_FIELDS = (
    "call_sid",
    "direction",
    "flow_name",
    "status",
    "outcome",
    "started_at",
    "ended_at",
)
_ANSWER_FIELDS = ("node", "question", "key", "speech", "value", "answered_at")
_REPORT_FIELDS = (
    "id",
    "channel",
    "kind",
    "created_at",
    "symptoms",
    "temperature",
    "spo2",
    "answers",
    "message",
    "recording_urls",
    "urgent",
    "urgent_reasons",
    "status",
    "acknowledged_at",
    "closed_at",
)
_MESSAGE_FIELDS = (
    "sid",
    "direction",
    "from_number",
    "to_number",
    "body",
    "status",
    "created_at",
    "sent_at",
    "delivered_at",
)
_OPT_OUT_FIELDS = ("reason", "created_at")


def personal_data(*, db_session: Session, phone: str) -> dict[str, Any]:
    """Every contact record, call, answer, report and message for the number `phone` (E.164),
    as JSON-ready values (Vietnamese text as stored)."""
    as_text = sql_cast(Contact.alt_phones, String)
    listed = db_session.scalars(
        select(Contact)
        .where(or_(Contact.phone == phone, as_text.contains(phone, autoescape=True)))
        .order_by(Contact.id)
    )
    contacts = [c for c in listed if c.phone == phone or phone in (c.alt_phones or [])]
    unit_ids = {c.unit_id for c in contacts if c.unit_id is not None}
    units = {u.id: u for u in db_session.scalars(select(Unit).where(Unit.id.in_(unit_ids)))}
    codes = {unit_id: unit.code for unit_id, unit in units.items()}
    contact_rows = []
    for contact in contacts:
        row = contact_json(contact, codes)
        unit = units.get(contact.unit_id) if contact.unit_id is not None else None
        row["unit_name"] = unit.name if unit else None
        row["created_at"] = contact.created_at.isoformat()
        contact_rows.append(row)

    calls = db_session.scalars(
        select(Call)
        .where(or_(Call.to_number == phone, Call.from_number == phone))
        .order_by(Call.id)
    )
    contact_ids = [c.id for c in contacts]
    # Filed under one of their contact records from another number: theirs too.
    sessions = db_session.scalars(
        select(CallSession)
        .where(or_(CallSession.phone == phone, CallSession.contact_id.in_(contact_ids)))
        .order_by(CallSession.id)
    ).all()
    answers: dict[int, list[dict[str, Any]]] = {s.id: [] for s in sessions}
    if sessions:
        for answer in db_session.scalars(
            select(CallAnswer)
            .where(CallAnswer.call_session_id.in_(list(answers)))
            .order_by(CallAnswer.id)
        ):
            answers[answer.call_session_id].append(_fields(answer, _ANSWER_FIELDS))
    reports = db_session.scalars(
        select(HotlineReport)
        .where(or_(HotlineReport.phone == phone, HotlineReport.contact_id.in_(contact_ids)))
        .order_by(HotlineReport.id)
    )
    messages = db_session.scalars(
        select(Message)
        .where(or_(Message.to_number == phone, Message.from_number == phone))
        .order_by(Message.id)
    )
    opt_outs = db_session.scalars(select(OptOut).where(OptOut.phone == phone).order_by(OptOut.id))
    return {
        "phone": phone,
        "generated_at": utcnow().isoformat(),
        "legal_basis": LEGAL_BASIS,
        "contacts": contact_rows,
        "calls": [_fields(c, _CALL_FIELDS) for c in calls],
        "call_sessions": [
            _fields(s, _SESSION_FIELDS) | {"answers": answers[s.id]} for s in sessions
        ],
        "reports": [_fields(r, _REPORT_FIELDS) for r in reports],
        "messages": [_fields(m, _MESSAGE_FIELDS) for m in messages],
        "opt_outs": [_fields(o, _OPT_OUT_FIELDS) for o in opt_outs],
    }


def record_counts(data: dict[str, Any]) -> dict[str, int]:
    """How many records of each kind an export holds (for the audit log: numbers only)."""
    counted = ("contacts", "calls", "call_sessions", "reports", "messages")
    counts = {name: len(data[name]) for name in counted}
    counts["answers"] = sum(len(s["answers"]) for s in data["call_sessions"])
    return counts


def _fields(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: _json_value(getattr(row, name)) for name in names}


def _json_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value
