from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from robocall.contacts.models import Contact, OptOut
from robocall.contacts.service import list_contacts
from robocall.db import session_scope
from robocall.importers.models import ImportBatch
from robocall.importers.service import ImportResult, import_path

FIXTURES = Path(__file__).with_name("fixtures")


def run_import(name: str, **options: Any) -> ImportResult:
    """Import a fixture file in its own committed transaction, as the CLI does."""
    with session_scope() as session:
        return import_path(db_session=session, path=FIXTURES / name, **options)


def contacts_by_row(sheet: str | None = None) -> dict[int, dict[str, Any]]:
    with session_scope() as session:
        contacts = list_contacts(db_session=session).contacts
    return {
        c["source"]["row"]: c for c in contacts if sheet is None or c["source"]["sheet"] == sheet
    }


def table_counts(session: Session) -> tuple[int, int, int]:
    return (
        session.scalar(select(func.count()).select_from(Contact)) or 0,
        session.scalar(select(func.count()).select_from(ImportBatch)) or 0,
        session.scalar(select(func.count()).select_from(OptOut)) or 0,
    )


def warnings_by_row(result: ImportResult) -> dict[tuple[str, int], list[dict[str, Any]]]:
    found: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for warning in result.warnings:
        found.setdefault((warning["sheet"], warning["row"]), []).append(warning)
    return found
