"""Import a commune list: read → find header → map columns → normalise → dedup → write.

A file is imported whole or not at all: everything is written in the caller's transaction,
and a refused file (ImportRefused) writes nothing.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.config import get_settings
from robocall.contacts.models import Classification
from robocall.db import utcnow
from robocall.importers.columns import Synonyms, cached_synonyms
from robocall.importers.dedup import (
    UnitResolver,
    dedup_in_file,
    match_existing,
    updates_for,
    write_updates,
)
from robocall.importers.layout import find_layout
from robocall.importers.messages import message
from robocall.importers.models import ImportBatch
from robocall.importers.reading import ImportRefused, Sheet, read_sheets
from robocall.importers.report import compact_outcomes
from robocall.importers.rows import RowContext, SheetRows, read_sheet_rows
from robocall.importers.writing import insert_contacts
from robocall.units.models import Unit
from robocall.units.service import get_by_code

__all__ = ["ImportRefused", "ImportResult", "get_batch", "import_file", "import_path"]

Progress = Callable[[int, int], None]


@dataclass
class ImportResult:
    """What one import did (or, for a dry run, would do)."""

    file: str
    file_hash: str
    batch_id: int | None = None
    dry_run: bool = False
    already_imported: int | None = None  # the batch that already imported this content
    sheets: list[str] = field(default_factory=list)
    skipped_sheets: list[dict[str, str]] = field(default_factory=list)
    rows: int = 0
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    skipped: int = 0
    without_phone: int = 0
    legacy_converted: int = 0
    warnings: list[dict[str, Any]] = field(default_factory=list)
    # [sheet, row, status, message] for the report workbook.
    row_outcomes: list[list[Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The JSON shape of `robocall import --json` and `POST /api/imports`."""
        return {
            "file": self.file,
            "batch_id": self.batch_id,
            "dry_run": self.dry_run,
            "already_imported": self.already_imported,
            "file_hash": self.file_hash,
            "sheets": self.sheets,
            "skipped_sheets": self.skipped_sheets,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "without_phone": self.without_phone,
            "legacy_converted": self.legacy_converted,
            "warnings": self.warnings,
        }


def batch_result(batch: ImportBatch) -> ImportResult:
    """The result recorded for a past import."""
    return ImportResult(
        file=batch.file_name,
        file_hash=batch.file_hash,
        batch_id=batch.id,
        sheets=list(batch.sheets),
        skipped_sheets=list(batch.skipped_sheets),
        rows=batch.rows,
        created=batch.created,
        updated=batch.updated,
        duplicates=batch.duplicates,
        skipped=batch.skipped,
        without_phone=batch.without_phone,
        legacy_converted=batch.legacy_converted,
        warnings=list(batch.warnings),
    )


def get_batch(*, db_session: Session, batch_id: int) -> ImportBatch | None:
    """Get an import batch by id."""
    return db_session.get(ImportBatch, batch_id)


def import_path(
    *,
    db_session: Session,
    path: Path,
    unit_code: str | None = None,
    classification: str | None = None,
    dry_run: bool = False,
    imported_by: str = "cli",
    progress: Progress | None = None,
) -> ImportResult:
    """Import a file from disk (refused before reading when over the size limit)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImportRefused(f"{path.name}: cannot read the file ({exc.strerror})") from None
    _check_size(path.name, size)
    return import_file(
        db_session=db_session,
        content=path.read_bytes(),
        file_name=path.name,
        unit_code=unit_code,
        classification=classification,
        dry_run=dry_run,
        imported_by=imported_by,
        progress=progress,
    )


def _check_size(file_name: str, size: int) -> None:
    limit = get_settings().import_max_bytes
    if size > limit:
        raise ImportRefused(
            f"{file_name}: the file is {size / 1_048_576:.1f} MB, over the limit of "
            f"{limit / 1_048_576:.0f} MB; split it into smaller files"
        )


def parse_classification_option(value: str | None) -> Classification:
    """The `--classification` option: F0 … F3 (any spelling the lists use), or unknown."""
    from robocall.importers.values import ValueProblem, parse_classification

    if value is None or not value.strip():
        return Classification.unknown
    if value.strip().lower() == "unknown":
        return Classification.unknown
    try:
        return parse_classification(value)
    except ValueProblem:
        raise ImportRefused(
            f"unknown classification {value!r} (give F0, F1, F2, F3 or unknown)"
        ) from None


def _recognise(sheets: list[Sheet], synonyms: Synonyms, file_name: str) -> list[tuple[Sheet, Any]]:
    recognised = []
    for sheet in sheets:
        layout = find_layout(sheet, synonyms)
        if layout is not None:
            recognised.append((sheet, layout))
    if recognised:
        return recognised
    if not any(any(c is not None and c != "" for c in row) for s in sheets for row in s.rows):
        raise ImportRefused(f"{file_name}: the file is empty")
    names = ", ".join(repr(s.name) for s in sheets)
    raise ImportRefused(
        f"{file_name}: no sheet has a recognisable name column (such as 'Họ và tên'); "
        f"sheets: {names}"
    )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while ~10 objects a row are made (it costs ~10%)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def import_file(
    *,
    db_session: Session,
    content: bytes,
    file_name: str,
    unit_code: str | None = None,
    classification: str | None = None,
    dry_run: bool = False,
    imported_by: str = "cli",
    progress: Progress | None = None,
) -> ImportResult:
    """Import one received file as contacts, or raise ImportRefused having written nothing."""
    with _collector_paused():
        return _import_file(
            db_session=db_session,
            content=content,
            file_name=file_name,
            unit_code=unit_code,
            classification=classification,
            dry_run=dry_run,
            imported_by=imported_by,
            progress=progress,
        )


def _import_file(
    *,
    db_session: Session,
    content: bytes,
    file_name: str,
    unit_code: str | None,
    classification: str | None,
    dry_run: bool,
    imported_by: str,
    progress: Progress | None,
) -> ImportResult:
    settings = get_settings()
    _check_size(file_name, len(content))
    default_classification = parse_classification_option(classification)
    unit: Unit | None = None
    if unit_code:
        unit = get_by_code(db_session=db_session, code=unit_code)
        if unit is None:
            raise ImportRefused(f"unknown unit {unit_code!r} (see `robocall units list`)")
    file_hash = hashlib.sha256(content).hexdigest()
    result = ImportResult(file=file_name, file_hash=file_hash, dry_run=dry_run)
    earlier = db_session.scalar(
        select(ImportBatch).where(ImportBatch.file_hash == file_hash).order_by(ImportBatch.id)
    )
    if earlier is not None:
        result = batch_result(earlier)
        result.batch_id, result.dry_run, result.already_imported = None, dry_run, earlier.id
        result.file = file_name
        result.created = result.updated = 0
        return result

    sheets = read_sheets(content, file_name)
    synonyms = cached_synonyms(settings.content_dir / "importers")
    recognised = _recognise(sheets, synonyms, file_name)
    names = {s.name for s, _ in recognised}
    result.sheets = [s.name for s, _ in recognised]
    result.skipped_sheets = [
        {"sheet": s.name, "reason": "no recognisable name column"}
        for s in sheets
        if s.name not in names
    ]
    total_rows = sum(len(s.rows) - layout.data_start for s, layout in recognised)
    if total_rows > settings.import_max_rows:
        raise ImportRefused(
            f"{file_name}: {total_rows} rows, over the limit of {settings.import_max_rows}; "
            "split the list into smaller files"
        )

    ctx = RowContext(file_name=file_name, default_classification=default_classification)
    done = 0
    sheet_rows: list[SheetRows] = []
    for sheet, layout in recognised:
        if progress is not None:
            ctx.progress = _sheet_progress(progress, done - layout.data_start, total_rows)
        sheet_rows.append(read_sheet_rows(sheet, layout, ctx))
        done += len(sheet.rows) - layout.data_start
    if progress is not None:
        progress(total_rows, total_rows)

    if sum(r.rows for r in sheet_rows) == 0:
        raise ImportRefused(f"{file_name}: the list is empty (no rows under its header)")
    resolver = UnitResolver(db_session, unit)
    drafts: list[dict[str, Any]] = []
    for sheet_result in sheet_rows:
        result.rows += sheet_result.rows
        result.legacy_converted += sheet_result.legacy_converted
        result.warnings.extend(sheet_result.warnings)
        for draft in sheet_result.drafts:
            unit_id, problem = resolver.resolve(draft["commune"])
            draft["unit_id"] = unit_id
            if problem is not None:
                fallback = (
                    f"thuộc đơn vị / kept under {unit.code}" if unit else "chưa có đơn vị / no unit"
                )
                result.warnings.append(
                    {
                        "sheet": draft["source_sheet"],
                        "row": draft["source_row"],
                        "column": draft["_commune_column"],
                        "value": draft["commune"] or "",
                        "message": message(problem, fallback=fallback),
                    }
                )
                draft["_warned"] = True
            drafts.append(draft)
    _attach_sheets(result, sheet_rows, recognised)
    result.skipped = sum(r.skipped for r in sheet_rows)

    people, merged_rows = dedup_in_file(drafts)
    new, pairs = match_existing(db_session=db_session, people=people)
    changes, unchanged = updates_for(pairs)
    result.created = len(new)
    result.updated = len(changes)
    result.duplicates = len(merged_rows) + len(unchanged)
    result.without_phone = sum(1 for p in people if not p["phone"])
    for person in new:
        person["_status"] = "created"
    _row_statuses(result, drafts, merged_rows)

    if dry_run:
        return result
    now = utcnow()
    batch = ImportBatch(
        file_name=file_name,
        file_hash=file_hash,
        file_size=len(content),
        imported_by=imported_by,
        unit_id=unit.id if unit else None,
        default_classification=default_classification.value,
        created_at=now,
        rows=result.rows,
        created=result.created,
        updated=result.updated,
        duplicates=result.duplicates,
        skipped=result.skipped,
        without_phone=result.without_phone,
        legacy_converted=result.legacy_converted,
        sheets=result.sheets,
        skipped_sheets=result.skipped_sheets,
        warnings=result.warnings,
        row_outcomes=compact_outcomes(result.row_outcomes, result.sheets),
        original=content,
    )
    db_session.add(batch)
    db_session.flush()
    result.batch_id = batch.id
    insert_contacts(
        db_session=db_session,
        people=new,
        constants={
            "source_file": file_name,
            "import_batch_id": batch.id,
            "created_at": now,
            "updated_at": now,
        },
    )
    write_updates(db_session=db_session, changes=changes, now=now)
    return result


def _sheet_progress(progress: Progress, offset: int, total: int) -> Callable[[int], None]:
    return lambda index: progress(offset + index, total)


def _attach_sheets(
    result: ImportResult, sheet_rows: list[SheetRows], recognised: list[tuple[Sheet, Any]]
) -> None:
    outcomes: list[list[Any]] = []
    for (sheet, _layout), rows in zip(recognised, sheet_rows, strict=True):
        outcomes.extend([sheet.name, row, status, text] for row, status, text in rows.outcomes)
    result.row_outcomes = outcomes


def _row_statuses(
    result: ImportResult, drafts: list[dict[str, Any]], merged_rows: list[Any]
) -> None:
    """Status and message of every imported row, for the report workbook."""
    by_row: dict[tuple[str, int], list[str]] = {}
    for warning in result.warnings:
        by_row.setdefault((warning["sheet"], warning["row"]), []).append(warning["message"])
    merged_into = {id(row): kept for row, kept in merged_rows}
    plain = {
        "created": message("created"),
        "updated": message("updated_existing"),
        "duplicate": message("duplicate_existing"),
    }
    for draft in drafts:
        kept = merged_into.get(id(draft))
        if kept is not None:
            status = "duplicate"
            text = message("duplicate_in_file", row=f"{kept['source_sheet']}!{kept['source_row']}")
        else:
            status = draft.get("_status", "created")
            text = plain[status]
        notes = by_row.get((draft["source_sheet"], draft["source_row"]))
        if notes:
            text = "; ".join([text, *notes])
            status = "warning"
        result.row_outcomes.append([draft["source_sheet"], draft["source_row"], status, text])
