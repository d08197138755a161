"""Retention and erasure of personal data (Law 91/2025/QH15 on personal data protection and
Decree 13/2023/ND-CP).

A contact's personal data is kept while they are monitored and for `retention_days` after;
then the contact is anonymised: the row stays (unit, classification, dates) so that every figure
counts the same, but nothing in it names or reaches the person. What is reached through a phone
number (calls, IVR sessions and answers, hotline reports, SMS, campaign targets) goes once no
contact still on the lists holds the number and nothing happened on it within the retention
period: the number becomes the same placeholder in every row, so joins on it still count each
person once. docs/privacy.md says what is kept and why.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, String, and_, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session, undefer
from sqlalchemy.sql.elements import ColumnElement

from robocall.campaigns.models import Target
from robocall.config import get_settings
from robocall.contacts.models import MONITORING_DAYS, Contact
from robocall.hotline.models import HotlineReport, ReportNotification
from robocall.importers.models import ImportBatch
from robocall.ivr.models import CallAnswer, CallSession
from robocall.kit.masking import mask_phone
from robocall.telephony.base import CallDirection
from robocall.telephony.messages import Message, MessageDirection
from robocall.telephony.models import Call, CallEvent
from robocall.users.models import AuditEntry
from robocall.users.service import record_audit

DEFAULT_RETENTION_DAYS = 90  # days personal data is kept after monitoring ends
# What an anonymised contact is called wherever a name is shown (exports, pages, results).
ANONYMISED_NAME = "(đã ẩn danh)"
PLACEHOLDER_PREFIX = "anon:"
# An answer's value or a report's answer kept after anonymising: a word the flow defines
# (yes, no, fever, a FAQ id) or a number. Anything else (a recording URL, an SMS text) goes.
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.\-]{1,32}")
T = TypeVar("T")
_CHUNK = 500  # ids per IN (…) list: well under every database's limit on parameters


@dataclass
class PrivacyCounts:
    """What one anonymisation run or one erasure changed (numbers only, for the audit log)."""

    contacts: int = 0  # contacts anonymised
    phones: int = 0  # numbers replaced everywhere by a placeholder
    alt_phones: int = 0  # contacts that had the number among their other numbers
    calls: int = 0
    call_sessions: int = 0
    answers: int = 0
    reports: int = 0
    messages: int = 0
    campaign_targets: int = 0
    originals_deleted: int = 0  # stored original uploads deleted

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class PrivacyError(ValueError):
    """A request about personal data that cannot be done; the message says why."""


def placeholder_phone() -> str:
    """A stand-in for an erased number: unique, unrelated to the number (random, so nothing
    can be worked back), and short enough for every phone column (20 characters)."""
    return PLACEHOLDER_PREFIX + secrets.token_hex(6)


def is_placeholder(phone: str | None) -> bool:
    return bool(phone) and str(phone).startswith(PLACEHOLDER_PREFIX)


def anonymised_contact() -> ColumnElement[bool]:
    """SQL: the contact has been anonymised (campaign audiences and lists may leave it out)."""
    return Contact.name == ANONYMISED_NAME


def monitoring_started_before(day: dt.date, zone: ZoneInfo) -> ColumnElement[bool]:
    """SQL: contacts whose monitoring started before the local `day`.

    Monitoring starts at the later of the exposure date and the return date; a contact with
    neither is counted from the day it was listed.
    """
    listed_before = dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)
    return or_(
        and_(
            Contact.exposure_date.is_not(None),
            Contact.exposure_date < day,
            or_(Contact.return_date.is_(None), Contact.return_date < day),
        ),
        and_(
            Contact.exposure_date.is_(None),
            Contact.return_date.is_not(None),
            Contact.return_date < day,
        ),
        and_(
            Contact.exposure_date.is_(None),
            Contact.return_date.is_(None),
            Contact.created_at < listed_before,
        ),
    )


def anonymise_expired(
    *,
    db_session: Session,
    now: dt.datetime,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    monitoring_days: int = MONITORING_DAYS,
    zone: ZoneInfo | None = None,
) -> PrivacyCounts:
    """Anonymise what is past retention and write one audit entry with the counts.

    - contacts whose monitoring ended more than `retention_days` ago (local dates);
    - what is reached through a number no contact on the lists holds any more and on which
      nothing happened for `retention_days` (also hotline callers who were never listed);
    - stored original uploads imported more than `retention_days` ago.
    """
    if retention_days < 1:
        raise PrivacyError(f"retention_days must be at least 1, not {retention_days}")
    zone = zone or get_settings().zone
    today = now.astimezone(zone).date()
    # Ended more than N days ago: start + monitoring_days < today - N.
    last_start = today - dt.timedelta(days=retention_days + monitoring_days)
    quiet_since = now - dt.timedelta(days=retention_days)
    counts = PrivacyCounts()

    expired = db_session.scalars(
        select(Contact)
        .where(~anonymised_contact(), monitoring_started_before(last_start, zone))
        .order_by(Contact.id)
    ).all()
    candidates: set[str] = set()
    for contact in expired:
        candidates |= _anonymise_contact(contact)
    counts.contacts = len(expired)
    db_session.flush()

    candidates |= _numbers_to_review(db_session, quiet_since)
    for phone in sorted(candidates - _numbers_in_use(db_session, candidates, quiet_since)):
        _release_phone(db_session, phone, counts)

    old_uploads = select(ImportBatch.id).where(
        ImportBatch.created_at < quiet_since, ImportBatch.original.is_not(None)
    )
    counts.originals_deleted = _drop_originals(db_session, db_session.scalars(old_uploads).all())
    record_audit(
        db_session=db_session,
        user=None,
        action="privacy.anonymise",
        detail={
            "retention_days": retention_days,
            "monitoring_started_before": last_start.isoformat(),
            **counts.as_dict(),
        },
    )
    db_session.flush()
    db_session.expire_all()  # the bulk statements changed rows the session may hold
    return counts


def erase_phone(
    *, db_session: Session, phone: str, operator: str, requested_by: str, reason: str
) -> PrivacyCounts:
    """Erase, on the person's request, everything about the number `phone` (E.164): every
    contact with that number, the calls, answers, reports and messages, the stored uploads
    they came from; and write an audit entry (who asked, why, what was erased).

    Whoever else still holds the number is not asked: the person asked. The opt-out list keeps
    the number, so that it is never called again (see docs/privacy.md).
    """
    requested_by, reason = requested_by.strip(), reason.strip()
    if not requested_by or not reason:
        raise PrivacyError("who asked and why are both needed for the audit log")
    counts = PrivacyCounts()
    contacts = db_session.scalars(
        select(Contact).where(Contact.phone == phone).order_by(Contact.id)
    ).all()
    uploads = {c.import_batch_id for c in contacts if c.import_batch_id is not None}
    other_numbers: set[str] = set()
    for contact in contacts:
        if contact.name != ANONYMISED_NAME:
            counts.contacts += 1
        other_numbers |= _anonymise_contact(contact) - {phone}
    for other in _holding_as_other_number(db_session, phone):
        other.alt_phones = [p for p in other.alt_phones if p != phone]
        counts.alt_phones += 1
    db_session.flush()
    contact_ids = [c.id for c in contacts]
    # A report or call session filed under one of these contacts from another number is
    # about this person too: its free text goes, the other number stays.
    for ids in _chunks(contact_ids):
        sessions = db_session.scalars(
            select(CallSession.id).where(
                CallSession.contact_id.in_(ids), CallSession.phone != phone
            )
        ).all()
        _forget_sessions(db_session, sessions, None, counts)
        reports = db_session.scalars(
            select(HotlineReport).where(
                HotlineReport.contact_id.in_(ids), HotlineReport.phone != phone
            )
        ).all()
        counts.reports += _forget_reports(db_session, reports, None)
    _release_phone(db_session, phone, counts)
    # The person's other numbers go too, unless someone still on the lists gives them.
    for other_number in sorted(other_numbers - _numbers_held(db_session, other_numbers)):
        _release_phone(db_session, other_number, counts)
    counts.originals_deleted = _drop_originals(db_session, sorted(uploads))
    entry = record_audit(
        db_session=db_session,
        user=None,
        action="privacy.erase",
        object_type="phone",
        object_id=mask_phone(phone),
        detail={"requested_by": requested_by, "reason": reason, **counts.as_dict()},
    )
    _name_operator(entry, operator)
    db_session.flush()
    db_session.expire_all()
    return counts


def _name_operator(entry: AuditEntry, operator: str) -> None:
    """The audit log names the person who ran the command, not "system"."""
    entry.username = operator.strip()[:64] or entry.username


def record_request(
    *,
    db_session: Session,
    action: str,
    phone: str,
    operator: str,
    requested_by: str,
    reason: str,
    detail: dict[str, Any],
) -> AuditEntry:
    """Audit a request about one number (an export); the number is masked in the log."""
    entry = record_audit(
        db_session=db_session,
        user=None,
        action=action,
        object_type="phone",
        object_id=mask_phone(phone),
        detail={"requested_by": requested_by, "reason": reason, **detail},
    )
    _name_operator(entry, operator)
    return entry


# --- the steps ---------------------------------------------------------------------------


def _anonymise_contact(contact: Contact) -> set[str]:
    """Remove what names or locates the person; keep unit, classification and dates. The
    numbers are returned: whether they go too depends on who else holds them."""
    numbers = {p for p in [contact.phone, *(contact.alt_phones or [])] if p}
    contact.name = ANONYMISED_NAME
    contact.match_key = ""  # never matched again as a duplicate of a new row
    contact.alt_phones = []
    contact.birth_year = None
    contact.birth_date = None
    contact.sex = None
    contact.address_detail = None
    contact.hamlet = None
    contact.source_case = None  # names the case they were exposed to: another person
    contact.returned_from = None
    contact.notes = None
    contact.extra = {}
    return {p for p in numbers if not is_placeholder(p)}


def _numbers_to_review(db_session: Session, quiet_since: dt.datetime) -> set[str]:
    """Numbers that may be free to erase: still on anonymised contacts, or on records older
    than the retention period (including callers no list ever named)."""
    queries = [
        select(Contact.phone).where(anonymised_contact(), Contact.phone.is_not(None)),
        select(HotlineReport.phone).where(HotlineReport.created_at < quiet_since),
        select(CallSession.phone).where(CallSession.started_at < quiet_since),
        select(Call.to_number).where(
            Call.direction == CallDirection.outbound, Call.created_at < quiet_since
        ),
        select(Call.from_number).where(
            Call.direction == CallDirection.inbound, Call.created_at < quiet_since
        ),
        select(Message.to_number).where(
            Message.direction == MessageDirection.outbound, Message.created_at < quiet_since
        ),
        select(Message.from_number).where(
            Message.direction == MessageDirection.inbound, Message.created_at < quiet_since
        ),
    ]
    found: set[str] = set()
    for query in queries:
        column = query.selected_columns[0]
        rows = db_session.scalars(query.where(column.not_like(f"{PLACEHOLDER_PREFIX}%")).distinct())
        found.update(p for p in rows if p)
    return found


def _holding_as_other_number(db_session: Session, phone: str) -> list[Contact]:
    """Contacts that list `phone` among their other numbers."""
    # The JSON list as text narrows it down in the database; the list itself decides.
    maybe = db_session.scalars(
        select(Contact).where(sql_cast(Contact.alt_phones, String).contains(phone, autoescape=True))
    )
    return [c for c in maybe if phone in (c.alt_phones or [])]


def _numbers_in_use(
    db_session: Session, candidates: set[str], quiet_since: dt.datetime
) -> set[str]:
    """Of `candidates`, the numbers a contact still on the lists holds, or on which something
    happened within the retention period (a handful of scans, not a query per number)."""
    in_use = _numbers_held(db_session, candidates)
    recent = [
        select(HotlineReport.phone).where(HotlineReport.created_at >= quiet_since),
        select(CallSession.phone).where(CallSession.started_at >= quiet_since),
        select(Call.to_number).where(Call.created_at >= quiet_since),
        select(Call.from_number).where(Call.created_at >= quiet_since),
        select(Message.to_number).where(Message.created_at >= quiet_since),
        select(Message.from_number).where(Message.created_at >= quiet_since),
    ]
    for query in recent:
        in_use.update(p for p in db_session.scalars(query.distinct()) if p in candidates)
    return in_use


def _numbers_held(db_session: Session, candidates: set[str]) -> set[str]:
    """Of `candidates`, the numbers a contact still on the lists (not anonymised) holds."""
    held: set[str] = set()
    for phones in _chunks(sorted(candidates)):
        held.update(
            db_session.scalars(
                select(Contact.phone).where(~anonymised_contact(), Contact.phone.in_(phones))
            )
        )
    # Few contacts have other numbers: the JSON list as text leaves out the empty ones.
    others = db_session.scalars(
        select(Contact.alt_phones).where(
            ~anonymised_contact(), sql_cast(Contact.alt_phones, String).contains("+")
        )
    )
    held.update(phone for listed in others for phone in listed or [] if phone in candidates)
    return held


def _release_phone(db_session: Session, phone: str, counts: PrivacyCounts) -> None:
    """Replace `phone` with one placeholder in every row and remove the free text, recordings
    and message bodies reached through it."""
    placeholder = placeholder_phone()
    counts.phones += 1
    _run(db_session, update(Contact).where(Contact.phone == phone).values(phone=placeholder))

    sessions = db_session.scalars(select(CallSession.id).where(CallSession.phone == phone)).all()
    _forget_sessions(db_session, sessions, placeholder, counts)

    reports = db_session.scalars(select(HotlineReport).where(HotlineReport.phone == phone)).all()
    counts.reports += _forget_reports(db_session, reports, placeholder)

    calls = db_session.scalars(
        select(Call.id).where(or_(Call.to_number == phone, Call.from_number == phone))
    ).all()
    _run(db_session, update(Call).where(Call.to_number == phone).values(to_number=placeholder))
    _run(db_session, update(Call).where(Call.from_number == phone).values(from_number=placeholder))
    for ids in _chunks(calls):
        # The provider's callbacks repeat the numbers (From, To, Caller, Called …).
        _run(db_session, update(CallEvent).where(CallEvent.call_id.in_(ids)).values(fields={}))
    counts.calls += len(calls)

    # The resident's own SMS, and the duty alerts that quote the number (with the name).
    messages = db_session.scalars(
        select(Message.id).where(
            or_(
                Message.to_number == phone,
                Message.from_number == phone,
                Message.body.contains(phone, autoescape=True),
            )
        )
    ).all()
    _run(
        db_session,
        update(Message).where(Message.to_number == phone).values(to_number=placeholder),
    )
    _run(
        db_session,
        update(Message).where(Message.from_number == phone).values(from_number=placeholder),
    )
    for ids in _chunks(messages):
        _run(db_session, update(Message).where(Message.id.in_(ids)).values(body=""))
    counts.messages += len(messages)

    counts.campaign_targets += _run(
        db_session, update(Target).where(Target.phone == phone).values(phone=placeholder)
    )


def _forget_sessions(
    db_session: Session,
    session_ids: Sequence[int],
    placeholder: str | None,
    counts: PrivacyCounts,
) -> None:
    """Clear what IVR sessions held about the person (the names the flow spoke, the state
    with recordings, the last spoken document) and their answers' words; with a placeholder,
    their number too."""
    values: dict[str, Any] = {"context": {}, "state": {}, "last_twiml": ""}
    if placeholder is not None:
        values["phone"] = placeholder
    for ids in _chunks(session_ids):
        _run(db_session, update(CallSession).where(CallSession.id.in_(ids)).values(**values))
    counts.call_sessions += len(session_ids)
    counts.answers += _forget_answers(db_session, session_ids)


def _forget_answers(db_session: Session, session_ids: Sequence[int]) -> int:
    """Keep what each answer meant (yes, no, a number, a choice); remove the question as
    spoken (it may name the person), what the recogniser heard, and recording URLs."""
    forgotten = 0
    for ids in _chunks(session_ids):
        answers = db_session.execute(
            select(CallAnswer.id, CallAnswer.value).where(CallAnswer.call_session_id.in_(ids))
        ).all()
        not_plain = [answer_id for answer_id, value in answers if not _is_plain(value)]
        for some in _chunks(not_plain):
            _run(db_session, update(CallAnswer).where(CallAnswer.id.in_(some)).values(value=""))
        _run(
            db_session,
            update(CallAnswer)
            .where(CallAnswer.call_session_id.in_(ids))
            .values(question="", speech=None),
        )
        forgotten += len(answers)
    return forgotten


def _forget_reports(
    db_session: Session, reports: Sequence[HotlineReport], placeholder: str | None
) -> int:
    """Keep a report's kind, symptoms, measurements, urgency and dates; remove the caller's
    words, recordings and the alert texts (they quote the number and name)."""
    for report in reports:
        if placeholder is not None:
            report.phone = placeholder
        report.message = None
        report.recording_urls = []
        report.answers = {
            key: value
            for key, value in (report.answers or {}).items()
            if _is_plain(key) and _is_plain(value)
        }
    db_session.flush()
    for ids in _chunks([r.id for r in reports]):
        _run(
            db_session,
            update(ReportNotification).where(ReportNotification.report_id.in_(ids)).values(body=""),
        )
    return len(reports)


def _drop_originals(db_session: Session, batch_ids: Sequence[int]) -> int:
    """Delete the stored files of these imports and the cell values their warnings quote;
    the counts and file name stay."""
    dropped = 0
    for ids in _chunks(batch_ids):
        batches = db_session.scalars(
            select(ImportBatch)
            .where(ImportBatch.id.in_(ids), ImportBatch.original.is_not(None))
            .options(undefer(ImportBatch.row_outcomes))
        ).all()
        for batch in batches:
            batch.warnings = [
                {k: v for k, v in warning.items() if k != "value"} for warning in batch.warnings
            ]
        db_session.flush()
        kept = [b.id for b in batches]
        if kept:
            # The row outcomes only rebuild the report from the file, and may quote values.
            _run(
                db_session,
                update(ImportBatch)
                .where(ImportBatch.id.in_(kept))
                .values(original=None, row_outcomes=[]),
            )
        dropped += len(kept)
    return dropped


def _is_plain(value: Any) -> bool:
    if isinstance(value, bool | int | float) or value is None:
        return True
    return isinstance(value, str) and (value == "" or bool(_PLAIN_VALUE.fullmatch(value)))


def _run(db_session: Session, statement: Any) -> int:
    """Execute a bulk UPDATE; the number of rows it changed."""
    result = db_session.execute(statement, execution_options={"synchronize_session": False})
    return int(cast(CursorResult[Any], result).rowcount)


def _chunks(values: Iterable[T]) -> Iterator[list[T]]:
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch
