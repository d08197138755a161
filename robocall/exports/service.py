"""Exports by name: what the CLI, the exports page and the API offer.

A new export (e.g. a campaign's results) is one builder function returning its tables, added to
EXPORTS with a Vietnamese title; the CLI, the exports page and the download route pick it up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy.orm import Session

from robocall.config import get_settings
from robocall.exports.campaign import CampaignExport, find_campaign
from robocall.exports.contacts import contact_tables, unit_filter
from robocall.exports.reports import report_tables
from robocall.exports.situation import build_situation, situation_tables
from robocall.exports.tables import (
    ExportError,
    ExportNotFound,
    ExportUnitUnknown,
    Table,
    export_format,
    write_tables,
)
from robocall.users.service import Scope

__all__ = [
    "EXPORTS",
    "ExportError",
    "ExportNotFound",
    "ExportRequest",
    "ExportUnitUnknown",
    "export_file_name",
    "write_export",
]


@dataclass(frozen=True)
class ExportRequest:
    """What to export: over which units, for which day (situation report), which campaign."""

    scope: Scope
    unit_code: str | None = None
    day: dt.date | None = None
    campaign_id: int | None = None


Builder = Callable[[Session, ExportRequest], list[Table]]


@dataclass(frozen=True)
class ExportKind:
    name: str
    title_vi: str
    title_en: str
    personal_data: bool  # names and phones: downloading it is audited as such
    formats: tuple[str, ...]
    build: Builder
    build_csv: Builder | None = None  # the CSV's table when it is not the workbook's first sheet
    needs_campaign: bool = False


def _contacts(db_session: Session, request: ExportRequest) -> list[Table]:
    scope = unit_filter(db_session=db_session, scope=request.scope, unit_code=request.unit_code)
    return contact_tables(db_session=db_session, scope=scope)


def _reports(db_session: Session, request: ExportRequest) -> list[Table]:
    scope = unit_filter(db_session=db_session, scope=request.scope, unit_code=request.unit_code)
    return report_tables(db_session=db_session, scope=scope)


def _situation(db_session: Session, request: ExportRequest) -> list[Table]:
    scope = unit_filter(db_session=db_session, scope=request.scope, unit_code=request.unit_code)
    settings = get_settings()
    day = request.day or dt.datetime.now(settings.zone).date()
    situation = build_situation(db_session=db_session, scope=scope, day=day, zone=settings.zone)
    return situation_tables(situation)


def _campaign_export(db_session: Session, request: ExportRequest) -> CampaignExport:
    scope = unit_filter(db_session=db_session, scope=request.scope, unit_code=request.unit_code)
    campaign = find_campaign(
        db_session=db_session, campaign_id=request.campaign_id, scope=request.scope
    )
    return CampaignExport(db_session=db_session, campaign=campaign, scope=scope)


def _campaign(db_session: Session, request: ExportRequest) -> list[Table]:
    return _campaign_export(db_session, request).tables()


def _campaign_results(db_session: Session, request: ExportRequest) -> list[Table]:
    return [_campaign_export(db_session, request).results_table()]


EXPORTS: dict[str, ExportKind] = {
    kind.name: kind
    for kind in (
        ExportKind("contacts", "Danh sách theo dõi", "Contacts", True, ("xlsx", "csv"), _contacts),
        ExportKind(
            "reports", "Phản ánh đường dây nóng", "Hotline reports", True, ("xlsx", "csv"), _reports
        ),
        ExportKind(
            "situation",
            "Báo cáo tình hình hằng ngày",
            "Daily situation report",
            False,
            ("xlsx",),
            _situation,
        ),
        ExportKind(
            "campaign",
            "Kết quả chiến dịch",
            "Campaign results",
            True,
            ("xlsx", "csv"),
            _campaign,
            build_csv=_campaign_results,
            needs_campaign=True,
        ),
    )
}


def get_export(name: str) -> ExportKind:
    """The export of this name, or ExportError listing the known ones."""
    kind = EXPORTS.get(name)
    if kind is None:
        raise ExportError(f"unknown export {name!r}; known: {', '.join(EXPORTS)}")
    return kind


def export_file_name(
    *, name: str, fmt: str, day: dt.date | None = None, campaign_id: int | None = None
) -> str:
    """A download's file name, e.g. `contacts-2026-11-23.xlsx`, `campaign-7-2026-11-23.csv`."""
    day = day or dt.datetime.now(get_settings().zone).date()
    if campaign_id is not None:
        name = f"{name}-{campaign_id}"
    return f"{name}-{day.isoformat()}.{fmt}"


def write_export(
    *,
    db_session: Session,
    name: str,
    fmt: str,
    request: ExportRequest,
    target: IO[bytes],
    progress: Callable[[int], None] | None = None,
) -> None:
    """Write the named export in `fmt` (xlsx or csv) to `target`."""
    kind = get_export(name)
    if fmt not in kind.formats:
        raise ExportError(f"{name}: available as {' or '.join(kind.formats)}, not {fmt}")
    build = kind.build_csv if fmt == "csv" and kind.build_csv is not None else kind.build
    write_tables(
        target=target,
        fmt=fmt,
        tables=lambda: build(db_session, request),
        zone=get_settings().zone,
        progress=progress,
    )


def write_export_file(
    *, db_session: Session, name: str, path: Path, request: ExportRequest
) -> None:
    """Write the named export to a file whose suffix (.xlsx or .csv) gives the format."""
    fmt = export_format(path.name)
    kind = get_export(name)
    if fmt not in kind.formats:
        raise ExportError(f"{path.name}: {name} is available as {' or '.join(kind.formats)}")
    partial = path.with_name(path.name + ".part")
    try:
        with partial.open("wb") as handle:
            write_export(db_session=db_session, name=name, fmt=fmt, request=request, target=handle)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
