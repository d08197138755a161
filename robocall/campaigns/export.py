"""A campaign's workbook for officials: a summary per commune and the people no call reached."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.campaigns.models import Campaign
from robocall.campaigns.results import results
from robocall.config import get_settings
from robocall.contacts.models import Contact
from robocall.kit.sheets import Cell, Column, Workbook
from robocall.units.models import Unit

OUTCOMES = ("reached", "unreached", "wrong_number", "opted_out", "no_phone")
OUTCOME_TITLES = {
    "reached": "Đã liên lạc / Reached",
    "unreached": "Chưa liên lạc được / Unreached",
    "wrong_number": "Sai số / Wrong number",
    "opted_out": "Từ chối cuộc gọi / Opted out",
    "no_phone": "Không có số / No phone",
}


def write_campaign_workbook(*, db_session: Session, campaign: Campaign, path: Path) -> Path:
    """Write the workbook to `path`: per-commune summary, then whom to visit in person."""
    rows = results(db_session=db_session, campaign=campaign)
    units = {u.id: u.name for u in db_session.scalars(select(Unit))}
    contacts = {
        c.id: c
        for c in db_session.scalars(
            select(Contact).where(Contact.id.in_([r["contact_id"] for r in rows]))
        )
    }
    by_commune: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        commune = units.get(row["unit_id"]) or row["commune"] or "—"
        by_commune[commune][row["outcome"]] += 1
        by_commune[commune]["people"] += 1
        by_commune[commune]["sms"] += 1 if row["sms"] else 0
        by_commune[commune]["symptomatic"] += 1 if row["symptomatic"] else 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with Workbook(path, get_settings().zone) as book:
        summary = book.sheet(
            "Tổng hợp",
            [Column("Xã/Phường / Commune"), Column("Số người / People")]
            + [Column(OUTCOME_TITLES[o]) for o in OUTCOMES]
            + [Column("Đã nhắn tin / SMS sent"), Column("Có triệu chứng / Symptomatic")],
        )
        for commune in sorted(by_commune):
            counts = by_commune[commune]
            values: list[Cell] = [commune, counts["people"]]
            values += [counts[o] for o in OUTCOMES]
            values += [counts["sms"], counts["symptomatic"]]
            summary.append(values)
        unreached = book.sheet(
            "Chưa liên lạc được",
            [
                "Họ và tên / Name",
                "Số điện thoại / Phone",
                "Xã/Phường / Commune",
                "Khu phố/Ấp / Hamlet",
                "Địa chỉ / Address",
                "Kết quả / Outcome",
                "Số lần gọi / Calls",
                "Tin nhắn / SMS",
            ],
        )
        for row in rows:
            if row["outcome"] not in ("unreached", "no_phone", "wrong_number"):
                continue
            contact = contacts.get(row["contact_id"])
            unreached.append(
                [
                    row["name"],
                    row["phone"] or "",
                    units.get(row["unit_id"]) or row["commune"] or "",
                    contact.hamlet if contact else "",
                    contact.address_detail if contact else "",
                    OUTCOME_TITLES[row["outcome"]],
                    len(row["attempts"]),
                    ", ".join(s["status"] for s in row["sms"]),
                ]
            )
    return path
