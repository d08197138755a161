"""A campaign's workbook for officials: per-commune totals, every call, whom to visit, symptom
reports and SMS; and its per-contact results as CSV.

The totals and the list of people to visit come from `campaigns.results.results`, so they say
exactly what `robocall campaign results` says. Calls, reports and messages are read from the
database in batches as the sheets are written. Times are shown in the campaign's own zone.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.campaigns.access import campaign_visible
from robocall.campaigns.models import Attempt, Campaign, Target
from robocall.campaigns.results import results
from robocall.contacts.models import Contact
from robocall.exports.tables import ExportError, ExportNotFound, Table
from robocall.hotline.models import HotlineReport
from robocall.hotline.scoping import reports_within
from robocall.ivr.models import CallSession
from robocall.kit.sheets import Cell, Column
from robocall.telephony.messages import Message
from robocall.units.models import Unit
from robocall.users.service import Scope

_BATCH = 1000  # rows fetched per round trip
NO_COMMUNE = "(không rõ xã/phường)"
# Who still needs a visit: no call reached them (the SMS is judged separately, below).
NOT_REACHED_BY_CALL = ("unreached", "no_phone", "wrong_number")
OUTCOME_WORDS = {
    "reached": "Đã liên lạc được",
    "unreached": "Gọi không được",
    "wrong_number": "Sai số",
    "opted_out": "Từ chối nhận cuộc gọi",
    "no_phone": "Không có số điện thoại",
}
ATTEMPT_WORDS = {
    "queued": "Chờ gọi",
    "dialling": "Đang quay số",
    "placed": "Đang gọi",
    "completed": "Nghe máy",
    "busy": "Máy bận",
    "no_answer": "Không nghe máy",
    "failed": "Lỗi",
    "canceled": "Đã hủy",
    "machine": "Hộp thư thoại",
}
ANSWERED_BY_WORDS = {"human": "Người nghe", "machine": "Máy trả lời", "unknown": "Không rõ"}
SMS_WORDS = {
    "accepted": "Đã nhận",
    "queued": "Chờ gửi",
    "sending": "Đang gửi",
    "sent": "Đã gửi",
    "delivered": "Đã đến máy",
    "undelivered": "Không đến được",
    "failed": "Lỗi",
    "canceled": "Đã hủy",
    "received": "Đã nhận",
}
REPORT_STATUS_WORDS = {"new": "Mới", "acknowledged": "Đã xác nhận", "closed": "Đã đóng"}
SUMMARY_COLUMNS = [
    Column("Xã/Phường"),
    Column("Số người"),
    Column("Đã gọi"),
    Column("Liên lạc được"),
    Column("Tỷ lệ liên lạc được (%)"),
    Column("Có triệu chứng"),
    Column("Khẩn cấp"),
    Column("Gọi không được"),
    Column("Sai số"),
    Column("Từ chối"),
    Column("Không có số điện thoại"),
    Column("Tin nhắn đã đến"),
]
CALL_COLUMNS = [
    Column("Thời gian"),
    Column("Họ và tên"),
    Column("Điện thoại"),
    Column("Xã/Phường"),
    Column("Lần gọi"),
    Column("Kết quả"),
    Column("Người trả lời"),
    Column("Thời lượng (giây)"),
]
VISIT_COLUMNS = [
    Column("Xã/Phường"),
    Column("Thôn/Tổ"),
    Column("Họ và tên"),
    Column("Điện thoại"),
    Column("Địa chỉ"),
    Column("Kết quả"),
    Column("Số lần gọi"),
    Column("Lần gọi cuối"),
    Column("Kết quả lần gọi cuối"),
    Column("Tin nhắn"),
]
REPORT_COLUMNS = [
    Column("Thời gian"),
    Column("Họ và tên"),
    Column("Điện thoại"),
    Column("Xã/Phường"),
    Column("Triệu chứng"),
    Column("Nhiệt độ (°C)"),
    Column("SpO2 (%)"),
    Column("Khẩn cấp"),
    Column("Lý do khẩn cấp"),
    Column("Câu trả lời", width=60),
    Column("Trạng thái"),
]
SMS_COLUMNS = [
    Column("Điện thoại"),
    Column("Họ và tên"),
    Column("Xã/Phường"),
    Column("Trạng thái"),
    Column("Số phần tin"),
    Column("Mã hóa"),
    Column("Thời gian"),
]
# The CSV: one row per person, the columns of `robocall campaign results`.
RESULT_COLUMNS = [
    Column("Mã"),
    Column("Họ và tên"),
    Column("Điện thoại"),
    Column("Xã/Phường"),
    Column("Thôn/Tổ"),
    Column("Địa chỉ"),
    Column("Kết quả"),
    Column("Có triệu chứng"),
    Column("Khẩn cấp"),
    Column("Số lần gọi"),
    Column("Lần gọi cuối"),
    Column("Kết quả lần gọi cuối"),
    Column("Tin nhắn"),
]


def sms_reached(row: dict[str, Any]) -> bool:
    """Whether an SMS of the campaign reached this person's phone."""
    return any(s["status"] == "delivered" for s in row["sms"])


def needs_visit(row: dict[str, Any]) -> bool:
    """No call and no SMS reached this person: someone must go to them."""
    return row["outcome"] in NOT_REACHED_BY_CALL and not sms_reached(row)


@dataclass(frozen=True, slots=True)
class _Person:
    """What the export needs of a contact beyond `campaign results` (kept small: one a person)."""

    name: str
    unit_id: int | None
    hamlet: str | None
    address_detail: str | None


@dataclass
class _People:
    """The campaign's people in the caller's units, as `campaign results` reports them."""

    rows: list[dict[str, Any]]
    contacts: dict[int, _Person]
    units: dict[int, str]

    def commune(self, row: dict[str, Any]) -> str:
        return self.units.get(row["unit_id"] or 0) or row["commune"] or NO_COMMUNE

    def hamlet(self, row: dict[str, Any]) -> str:
        contact = self.contacts.get(row["contact_id"])
        return (contact.hamlet if contact else None) or ""

    def sort_key(self, row: dict[str, Any]) -> tuple[str, str, str, int]:
        return (self.commune(row), self.hamlet(row), row["name"], row["contact_id"])


class CampaignExport:
    """The tables of one campaign's export, limited to the people in `scope`."""

    def __init__(self, *, db_session: Session, campaign: Campaign, scope: Scope) -> None:
        self.db_session = db_session
        self.campaign = campaign
        self.scope = scope
        self.zone = ZoneInfo(campaign.zone)
        self._people: _People | None = None

    # -- the people, loaded once for the summary, the visit list and the CSV

    def people(self) -> _People:
        if self._people is None:
            units = None if self.scope.unit_ids is None else set(self.scope.unit_ids)
            rows = results(db_session=self.db_session, campaign=self.campaign, unit_ids=units)
            ids = [r["contact_id"] for r in rows]
            contacts: dict[int, _Person] = {}
            columns = (Contact.name, Contact.unit_id, Contact.hamlet, Contact.address_detail)
            for start in range(0, len(ids), _BATCH):
                chunk = ids[start : start + _BATCH]
                query = select(Contact.id, *columns).where(Contact.id.in_(chunk))
                for cid, name, unit_id, hamlet, address in self.db_session.execute(query):
                    contacts[cid] = _Person(name, unit_id, hamlet, address)
            names = dict(self.db_session.execute(select(Unit.id, Unit.name)).all())
            self._people = _People(rows, contacts, names)
        return self._people

    def summary_rows(self) -> Iterator[Sequence[Cell]]:
        people = self.people()
        by_commune: dict[str, Counter[str]] = defaultdict(Counter)
        for row in people.rows:
            counts = by_commune[people.commune(row)]
            counts["people"] += 1
            counts["called"] += 1 if row["attempts"] else 0
            counts[row["outcome"]] += 1
            counts["symptomatic"] += 1 if row["symptomatic"] else 0
            counts["urgent"] += 1 if row["urgent"] else 0
            counts["sms_reached"] += 1 if sms_reached(row) else 0
        total: Counter[str] = Counter()
        for commune in sorted(by_commune):
            total.update(by_commune[commune])
            yield _summary_line(commune, by_commune[commune])
        yield _summary_line("Tổng cộng", total)

    def visit_rows(self) -> Iterator[Sequence[Cell]]:
        people = self.people()
        for row in sorted(filter(needs_visit, people.rows), key=people.sort_key):
            yield self._person_line(row, with_health=False)

    def result_rows(self) -> Iterator[Sequence[Cell]]:
        people = self.people()
        for row in sorted(people.rows, key=people.sort_key):
            yield self._person_line(row, with_health=True)

    def _person_line(self, row: dict[str, Any], *, with_health: bool) -> list[Cell]:
        people = self.people()
        contact = people.contacts.get(row["contact_id"])
        last = row["attempts"][-1] if row["attempts"] else None
        last_at = _parse_time(last["started_at"]) if last else None
        sms = ", ".join(SMS_WORDS.get(s["status"], s["status"]) for s in row["sms"])
        address = (contact.address_detail if contact else None) or ""
        outcome = OUTCOME_WORDS.get(row["outcome"], row["outcome"])
        last_word = ATTEMPT_WORDS.get(last["status"], last["status"]) if last else ""
        if not with_health:
            return [
                people.commune(row),
                people.hamlet(row),
                row["name"],
                row["phone"],
                address,
                outcome,
                len(row["attempts"]),
                last_at,
                last_word,
                sms,
            ]
        return [
            row["contact_id"],
            row["name"],
            row["phone"],
            people.commune(row),
            people.hamlet(row),
            address,
            outcome,
            row["symptomatic"],
            row["urgent"],
            len(row["attempts"]),
            last_at,
            last_word,
            sms,
        ]

    # -- calls, reports and messages, streamed from the database

    def _contact_names(self) -> dict[int, tuple[str, int | None]]:
        people = self.people()
        return {cid: (c.name, c.unit_id) for cid, c in people.contacts.items()}

    def _names_in_scope(
        self, contact_ids: list[int], known: dict[int, tuple[str, int | None]]
    ) -> tuple[str, str] | None:
        """The names (and the first one's commune) of a target's people the caller may see."""
        visible = [known[c] for c in contact_ids if c in known]
        if not visible:
            return None
        units = self.people().units
        return ", ".join(n for n, _ in visible), units.get(visible[0][1] or 0, NO_COMMUNE)

    def call_rows(self) -> Iterator[Sequence[Cell]]:
        known = self._contact_names()
        query = (
            select(Attempt, Target.phone, Target.contact_ids)
            .join(Target, Target.id == Attempt.target_id)
            .where(Attempt.campaign_id == self.campaign.id)
            .order_by(Attempt.dialled_at, Attempt.id)
        )
        for attempt, phone, contact_ids in self.db_session.execute(
            query.execution_options(yield_per=_BATCH)
        ):
            who = self._names_in_scope(contact_ids or [], known)
            if who is None:
                continue
            yield [
                attempt.dialled_at or attempt.created_at,
                who[0],
                phone,
                who[1],
                attempt.number,
                ATTEMPT_WORDS.get(attempt.status.value, attempt.status.value),
                ANSWERED_BY_WORDS.get(attempt.answered_by or "", attempt.answered_by),
                attempt.duration_seconds,
            ]

    def report_rows(self) -> Iterator[Sequence[Cell]]:
        people = self.people()
        names = {cid: c.name for cid, c in people.contacts.items()}
        query = reports_within(
            select(HotlineReport)
            .join(CallSession, CallSession.id == HotlineReport.call_session_id)
            .join(Attempt, Attempt.call_sid == CallSession.call_sid)
            .where(Attempt.campaign_id == self.campaign.id),
            self.scope,
        ).order_by(HotlineReport.urgent.desc(), HotlineReport.created_at, HotlineReport.id)
        for report in self.db_session.scalars(query.execution_options(yield_per=_BATCH)):
            answers = "; ".join(
                f"{key}: {_answer_text(value)}" for key, value in (report.answers or {}).items()
            )
            yield [
                report.created_at,
                names.get(report.contact_id or 0, ""),
                report.phone,
                people.units.get(report.unit_id or 0, NO_COMMUNE),
                ", ".join(report.symptoms or []),
                report.temperature,
                report.spo2,
                report.urgent,
                ", ".join(report.urgent_reasons or []),
                answers,
                REPORT_STATUS_WORDS.get(report.status.value, report.status.value),
            ]

    def sms_rows(self) -> Iterator[Sequence[Cell]]:
        known = self._contact_names()
        query = (
            select(Message, Target.contact_ids)
            .join(Target, Target.message_sid == Message.sid)
            .where(Target.campaign_id == self.campaign.id)
            .order_by(Message.created_at, Message.id)
        )
        for message, contact_ids in self.db_session.execute(
            query.execution_options(yield_per=_BATCH)
        ):
            who = self._names_in_scope(contact_ids or [], known)
            if who is None:
                continue
            yield [
                message.to_number,
                who[0],
                who[1],
                SMS_WORDS.get(message.status.value, message.status.value),
                message.segments,
                message.encoding.value.upper(),
                message.delivered_at or message.sent_at or message.created_at,
            ]

    def tables(self) -> list[Table]:
        """The workbook's five sheets."""
        return [
            Table("Tổng hợp", SUMMARY_COLUMNS, self.summary_rows(), self.zone),
            Table("Cuộc gọi", CALL_COLUMNS, self.call_rows(), self.zone),
            Table(
                "Chưa liên lạc được", VISIT_COLUMNS, self.visit_rows(), self.zone, printable=True
            ),
            Table("Triệu chứng", REPORT_COLUMNS, self.report_rows(), self.zone),
            Table("Tin nhắn", SMS_COLUMNS, self.sms_rows(), self.zone),
        ]

    def results_table(self) -> Table:
        """Everyone with their result, sorted by commune and hamlet (the CSV)."""
        return Table("Kết quả", RESULT_COLUMNS, self.result_rows(), self.zone)


def _summary_line(commune: str, counts: Counter[str]) -> list[Cell]:
    people = counts["people"]
    percent = round(100.0 * counts["reached"] / people, 1) if people else 0.0
    return [
        commune,
        people,
        counts["called"],
        counts["reached"],
        percent,
        counts["symptomatic"],
        counts["urgent"],
        counts["unreached"],
        counts["wrong_number"],
        counts["opted_out"],
        counts["no_phone"],
        counts["sms_reached"],
    ]


def _answer_text(value: object) -> str:
    if isinstance(value, bool):
        return "có" if value else "không"
    return "" if value is None else str(value)


def _parse_time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def find_campaign(*, db_session: Session, campaign_id: int | None, scope: Scope) -> Campaign:
    """The campaign to export, or ExportNotFound when it is not one the caller may see."""
    if campaign_id is None:
        raise ExportError("campaign: give the campaign's number")
    campaign = db_session.get(Campaign, campaign_id)
    if campaign is None or not campaign_visible(
        db_session=db_session, campaign=campaign, scope=scope
    ):
        raise ExportNotFound(f"campaign: no campaign {campaign_id}")
    return campaign
