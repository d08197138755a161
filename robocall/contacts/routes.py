"""JSON API of contacts. No authentication yet: user roles come with the users issue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy.orm import Session

from robocall.contacts.service import ContactQueryError, list_contacts
from robocall.web.deps import db_session

router = APIRouter(prefix="/api/contacts", tags=["contacts"])


@router.get("")
def read_contacts(
    session: Annotated[Session, Depends(db_session)],
    unit: Annotated[str | None, Query(description="Unit code (and the units below it).")] = None,
    classification: Annotated[str | None, Query(description="F0 … F3 or unknown.")] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """A page of contacts, by id, filtered by unit and classification."""
    try:
        result = list_contacts(
            db_session=session,
            unit_code=unit,
            classification=classification,
            offset=(page - 1) * page_size,
            limit=page_size,
        )
    except ContactQueryError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    return {"items": result.contacts, "total": result.total, "page": page, "page_size": page_size}
