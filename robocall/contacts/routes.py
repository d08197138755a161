"""JSON API of contacts, scoped to the caller's units (another unit's contact is 404)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy.orm import Session

from robocall.contacts.service import (
    ContactQueryError,
    contact_json,
    get_contact,
    list_contacts,
)
from robocall.http.auth import api_user, user_scope
from robocall.http.deps import db_session
from robocall.units.models import Unit
from robocall.users.models import User
from robocall.users.service import Scope, record_audit

router = APIRouter(prefix="/api/contacts", tags=["contacts"])


@router.get("")
def read_contacts(
    session: Annotated[Session, Depends(db_session, scope="function")],
    user: Annotated[User, Depends(api_user)],
    scope: Annotated[Scope, Depends(user_scope)],
    unit: Annotated[str | None, Query(description="Unit code (and the units below it).")] = None,
    classification: Annotated[str | None, Query(description="F0 … F3 or unknown.")] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    q: Annotated[str | None, Query(description="Part of a name or phone number.")] = None,
) -> dict[str, Any]:
    """A page of contacts, by id, filtered by unit and classification."""
    try:
        result = list_contacts(
            db_session=session,
            unit_code=unit,
            classification=classification,
            offset=(page - 1) * page_size,
            limit=page_size,
            within_units=scope.unit_ids,
            search=q,
        )
    except ContactQueryError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    record_audit(
        db_session=session,
        user=user,
        action="contact.list",
        object_type="contact",
        detail={
            "unit": unit,
            "classification": classification,
            "search": bool(q),
            "page": page,
            "returned": len(result.contacts),
        },
    )
    return {"items": result.contacts, "total": result.total, "page": page, "page_size": page_size}


@router.get("/{contact_id}")
def read_contact(
    contact_id: int,
    session: Annotated[Session, Depends(db_session, scope="function")],
    user: Annotated[User, Depends(api_user)],
    scope: Annotated[Scope, Depends(user_scope)],
) -> dict[str, Any]:
    """One contact the caller may see (404 otherwise); reading it is audited."""
    contact = get_contact(db_session=session, contact_id=contact_id, within_units=scope.unit_ids)
    if contact is None:
        raise HTTPException(404, detail=f"no contact {contact_id}")
    record_audit(
        db_session=session,
        user=user,
        action="contact.view",
        object_type="contact",
        object_id=contact.id,
        unit_id=contact.unit_id,
        detail={"via": "api"},
    )
    unit = session.get(Unit, contact.unit_id) if contact.unit_id else None
    return contact_json(contact, {unit.id: unit.code} if unit else {})
