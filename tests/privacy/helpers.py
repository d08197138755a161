"""A district's data 100-odd days into an outbreak, written straight into the database.

- An: monitoring ended 91 days ago, called, answered, reported, texted: past retention.
- Cúc: monitoring ended 89 days ago: still within retention.
- Dũng and Em share a phone (one household). Dũng's monitoring ended 91 days ago; Em is still
  monitored, so the number and what came through it stay.
- Two callers no list names: one rang the hotline 100 days ago, one 10 days ago.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.campaigns.models import (
    Attempt,
    AttemptStatus,
    Campaign,
    CampaignKind,
    CampaignRound,
    CampaignStatus,
    SmsState,
    Target,
    TargetStatus,
)
from robocall.config import get_settings
from robocall.contacts.models import Classification, Contact
from robocall.db import Base, utcnow
from robocall.hotline.models import (
    HotlineReport,
    ReportChannel,
    ReportKind,
    ReportNotification,
)
from robocall.importers.models import ImportBatch
from robocall.ivr.models import CallAnswer, CallSession, CallSessionStatus
from robocall.ivr.models import CallDirection as SessionDirection
from robocall.telephony.base import (
    AnsweredBy,
    CallDirection,
    CallEventKind,
    CallStatus,
    MessageStatus,
)
from robocall.telephony.messages import Message, MessageDirection, SmsEncoding
from robocall.telephony.models import Call, CallEvent
from robocall.units.service import ensure_sample_units, get_by_code

AN = "+84912000001"
CUC = "+84912000003"
HOUSEHOLD = "+84912000004"  # Dũng and Em
OLD_CALLER = "+84912000008"  # rang the hotline 100 days ago; on no list
NEW_CALLER = "+84912000009"  # rang the hotline 10 days ago; on no list
DUTY = "+84912000115"
CALLER_ID = "+842873001234"
HOTLINE = "+842873009999"
ORIGINAL = b"PK\x03\x04 the commune's list as uploaded"


@dataclass
class Person:
    contact_id: int
    name: str
    phone: str
    call_sid: str
    session_id: int
    report_id: int
    words: str  # what they said in their report, free text


@dataclass
class District:
    now: dt.datetime
    today: dt.date
    campaign_id: int
    batch_id: int
    people: dict[str, Person] = field(default_factory=dict)
    old_call_day: dt.date = dt.date.min  # the local day An and Dũng were called


_sids = itertools.count(1)


def _sid(prefix: str) -> str:
    return f"{prefix}{next(_sids):032x}"


def _at(today: dt.date, days_ago: int, hour: int = 10) -> dt.datetime:
    zone = get_settings().zone
    return dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(hour), zone)


def _call(
    session: Session,
    *,
    person: str,
    name: str,
    phone: str,
    contact_id: int | None,
    unit_id: int | None,
    when: dt.datetime,
    words: str,
    target: Target | None,
    inbound: bool = False,
) -> tuple[str, int, int]:
    """One answered call with its IVR session, answers, report, alert and SMS."""
    sid = _sid("CA")
    call = Call(
        sid=sid,
        direction=CallDirection.inbound if inbound else CallDirection.outbound,
        to_number=HOTLINE if inbound else phone,
        from_number=phone if inbound else CALLER_ID,
        status=CallStatus.completed,
        answered_by=AnsweredBy.human,
        duration_seconds=95,
        created_at=when,
        answered_at=when,
        ended_at=when + dt.timedelta(seconds=95),
    )
    session.add(call)
    session.flush()
    session.add(
        CallEvent(
            call_id=call.id,
            dedup_key=f"{sid}:status:1:completed",
            kind=CallEventKind.status,
            status=CallStatus.completed,
            received_at=when,
            fields={"CallSid": sid, "To": call.to_number, "From": call.from_number},
        )
    )
    greeting = f"Xin chào anh chị {name}, đây là Trung tâm Y tế quận."
    ivr = CallSession(
        call_sid=sid,
        direction=SessionDirection.inbound if inbound else SessionDirection.outbound,
        flow_name="hotline" if inbound else "f1_tracing",
        flow_version="test",
        phone=phone,
        contact_id=contact_id,
        unit_id=unit_id,
        context={"name": name, "household_names": [name]},
        state={"values": {"message": f"https://api.twilio.test/{sid}.wav"}},
        step=3,
        last_twiml=f"<Response><Say>{greeting}</Say></Response>",
        status=CallSessionStatus.finished,
        outcome="completed",
        started_at=when,
        ended_at=when + dt.timedelta(seconds=95),
    )
    session.add(ivr)
    session.flush()
    recording = f"https://api.twilio.test/{sid}.wav"
    session.add_all(
        [
            CallAnswer(
                call_session_id=ivr.id,
                node="confirm",
                question=greeting,
                key="1",
                value="yes",
                answered_at=when,
            ),
            CallAnswer(
                call_session_id=ivr.id,
                node="cough",
                question="Anh chị có bị ho không?",
                speech=f"có, {person} bị ho",
                value="yes",
                answered_at=when,
            ),
            CallAnswer(
                call_session_id=ivr.id,
                node="message",
                question="Xin để lại lời nhắn.",
                value=recording,
                answered_at=when,
            ),
        ]
    )
    report = HotlineReport(
        channel=ReportChannel.hotline if inbound else ReportChannel.outbound_call,
        kind=ReportKind.symptoms,
        phone=phone,
        contact_id=contact_id,
        unit_id=unit_id,
        call_session_id=ivr.id,
        symptoms=["cough"],
        temperature=38.5,
        answers={"confirm": "yes", "cough": "yes", "message": recording},
        recording_urls=[recording],
        message=words,
        urgent=True,
        urgent_reasons=["high_fever"],
        created_at=when,
    )
    session.add(report)
    session.flush()
    alert = f"KHẨN #{report.id}: {phone} {name}. Triệu chứng: ho."
    session.add(ReportNotification(report_id=report.id, to=DUTY, body=alert, created_at=when))
    sms_sid = _sid("SM")
    session.add_all(
        [
            Message(
                sid=sms_sid,
                direction=MessageDirection.outbound,
                to_number=phone,
                from_number=CALLER_ID,
                body=f"Chào {name}, xin ở nhà đến hết ngày theo dõi.",
                status=MessageStatus.delivered,
                encoding=SmsEncoding.ucs2,
                created_at=when,
            ),
            Message(
                sid=_sid("SM"),
                direction=MessageDirection.inbound,
                to_number=CALLER_ID,
                from_number=phone,
                body=f"{person} vẫn khỏe, cảm ơn",
                status=MessageStatus.received,
                encoding=SmsEncoding.ucs2,
                created_at=when,
            ),
            Message(
                sid=_sid("SM"),
                direction=MessageDirection.outbound,
                to_number=DUTY,
                from_number=CALLER_ID,
                body=alert,
                status=MessageStatus.delivered,
                encoding=SmsEncoding.ucs2,
                created_at=when,
            ),
        ]
    )
    if target is not None:
        target.message_sid = sms_sid
        target.sms_state = SmsState.sent
        session.add(
            Attempt(
                campaign_id=target.campaign_id,
                target_id=target.id,
                number=1,
                status=AttemptStatus.completed,
                call_sid=sid,
                answered_by="human",
                duration_seconds=95,
                created_at=when,
                dialled_at=when,
                ended_at=when + dt.timedelta(seconds=95),
            )
        )
    session.flush()
    return sid, ivr.id, report.id


def build_district(session: Session) -> District:
    now = utcnow()
    today = now.astimezone(get_settings().zone).date()
    ensure_sample_units(db_session=session)
    commune = get_by_code(db_session=session, code="26794")
    assert commune is not None
    batch = ImportBatch(
        file_name="F1 Linh Trung.xlsx",
        file_hash="0" * 64,
        file_size=len(ORIGINAL),
        imported_by="cli:tester",
        unit_id=commune.id,
        default_classification="F1",
        created_at=_at(today, 104),
        rows=4,
        created=4,
        warnings=[
            {
                "sheet": "DS",
                "row": 7,
                "column": "SĐT",
                "value": "0912 000 001 (anh An)",
                "message": "số điện thoại phụ không hợp lệ",
            }
        ],
        row_outcomes=[["DS", 5, 8, "created", "tạo mới"]],
        original=ORIGINAL,
    )
    session.add(batch)
    session.flush()

    # Ended N days ago: the exposure date was 14 + N days ago.
    listed: dict[str, tuple[str, str, int]] = {
        "An": ("Nguyễn Văn An", AN, 14 + 91),
        "Cúc": ("Lê Thị Cúc", CUC, 14 + 89),
        "Dũng": ("Trần Văn Dũng", HOUSEHOLD, 14 + 91),
        "Em": ("Trần Thị Em", HOUSEHOLD, 5),
    }
    contacts: dict[str, Contact] = {}
    for person, (name, phone, exposed_days_ago) in listed.items():
        contact = Contact(
            unit_id=commune.id,
            name=name,
            match_key=name.casefold(),
            phone=phone,
            alt_phones=["+84987000001"] if person == "An" else [],
            sms_capable=True,
            classification=Classification.F1,
            exposure_date=today - dt.timedelta(days=exposed_days_ago),
            birth_year=1980,
            sex=None,
            address_detail=f"12 đường số 3 ({person})",
            hamlet="Khu phố 6",
            commune="Linh Trung",
            district="Thủ Đức",
            source_case="BN 12345 Phạm Văn Bệnh",
            notes=f"{person}: hay đi làm sớm",
            extra={"Nghề nghiệp": "công nhân"},
            source_file=batch.file_name,
            source_sheet="DS",
            source_row=5,
            import_batch_id=batch.id,
            created_at=_at(today, exposed_days_ago - 1),
        )
        session.add(contact)
        contacts[person] = contact
    session.flush()

    campaign = Campaign(
        name="Gọi F1 Linh Trung",
        kind=CampaignKind.call_then_sms,
        flow="f1_tracing",
        sms_template="f1_advice",
        audience={"contacts": [c.id for c in contacts.values()]},
        unit_id=commune.id,
        caller_id=CALLER_ID,
        status=CampaignStatus.completed,
        created_at=_at(today, 102),
        started_at=_at(today, 102),
        finished_at=_at(today, 101),
    )
    session.add(campaign)
    session.flush()
    round_ = CampaignRound(campaign_id=campaign.id, number=1, day=today - dt.timedelta(days=102))
    session.add(round_)
    session.flush()
    households = {AN: ["An"], CUC: ["Cúc"], HOUSEHOLD: ["Dũng", "Em"]}
    targets: dict[str, Target] = {}
    for phone, members in households.items():
        target = Target(
            campaign_id=campaign.id,
            round_id=round_.id,
            phone=phone,
            contact_ids=[contacts[m].id for m in members],
            sms_capable=True,
            status=TargetStatus.reached,
            attempts_made=1,
        )
        session.add(target)
        targets[phone] = target
    session.flush()

    result = District(now=now, today=today, campaign_id=campaign.id, batch_id=batch.id)
    result.old_call_day = today - dt.timedelta(days=101)
    # The campaign called An, Cúc and the household 101 days ago; Em also rang the hotline
    # 2 days ago (still monitored).
    calls: list[tuple[str, int, bool, str]] = [
        ("An", 101, False, "An bị ho nhiều, sốt về đêm"),
        ("Cúc", 101, False, "Cúc hơi mệt"),
        ("Dũng", 101, False, "Dũng bị đau họng"),
        ("Em", 2, True, "Em khó thở khi leo cầu thang"),
    ]
    for person, days_ago, inbound, words in calls:
        contact = contacts[person]
        assert contact.phone is not None
        sid, ivr_id, report_id = _call(
            session,
            person=person,
            name=contact.name,
            phone=contact.phone,
            contact_id=contact.id,
            unit_id=commune.id,
            when=_at(today, days_ago),
            words=words,
            target=None if inbound else targets[contact.phone],
            inbound=inbound,
        )
        result.people[person] = Person(
            contact.id, contact.name, contact.phone, sid, ivr_id, report_id, words
        )
    for person, phone, days_ago in (
        ("Khách cũ", OLD_CALLER, 100),
        ("Khách mới", NEW_CALLER, 10),
    ):
        sid, ivr_id, report_id = _call(
            session,
            person=person,
            name=person,
            phone=phone,
            contact_id=None,
            unit_id=None,
            when=_at(today, days_ago),
            words=f"{person} nhắn: nhà tôi có người sốt",
            target=None,
            inbound=True,
        )
        result.people[person] = Person(0, person, phone, sid, ivr_id, report_id, "")
    session.commit()
    return result


def every_text(session: Session) -> str:
    """Every value of every row of every table, as one text (to look for what must be gone)."""
    parts: list[str] = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(select(table)):
            parts.append(f"{table.name}: {[_readable(v) for v in row]!r}")
    return "\n".join(parts)


def _readable(value: Any) -> Any:
    """JSON columns are stored with Vietnamese escaped (\\u1ec5): search them as written."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.dumps(json.loads(value), ensure_ascii=False)
        except ValueError:
            return value
    return value


def one(session: Session, query: Any) -> Any:
    found = session.scalars(query).all()
    assert len(found) == 1, found
    return found[0]
