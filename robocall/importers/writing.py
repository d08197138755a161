"""Writing many contacts fast (see `robocall.db.bulk_insert`)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from robocall.contacts.models import Contact
from robocall.db import bulk_insert

CONTACTS = cast(Table, Contact.__table__)


def insert_contacts(
    *, db_session: Session, people: list[dict[str, Any]], constants: dict[str, Any]
) -> int:
    """Insert every person (dicts keyed by column); `constants` are the same for all rows."""
    return bulk_insert(db_session=db_session, table=CONTACTS, rows=people, constants=constants)
