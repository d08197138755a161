"""Contacts: search and filter, and one person's page with every call, answer and report."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from robocall.contacts.models import Classification, Contact
from robocall.contacts.service import ContactQueryError, get_contact, is_opted_out, list_contacts
from robocall.hotline.models import HotlineReport
from robocall.ivr.models import CallSession
from robocall.telephony.models import Call
from robocall.users.scoping import within
from robocall.users.service import Scope, record_audit
from robocall.web.deps import db_session
from robocall.web.pages.common import Viewer, render, units_in_scope, viewer

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@router.get("/contacts", response_class=HTMLResponse)
def contacts_page(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session)],
    q: Annotated[str | None, Query(max_length=100)] = None,
    classification: Annotated[str | None, Query()] = None,
    unit: Annotated[str | None, Query()] = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    error = None
    try:
        result = list_contacts(
            db_session=session,
            unit_code=unit or None,
            classification=classification or None,
            search=q,
            within_units=who.scope.unit_ids,
            offset=(page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
        contacts, total = result.contacts, result.total
    except ContactQueryError as exc:
        error, contacts, total = str(exc), [], 0
    return render(
        request,
        who,
        "contacts.html",
        {
            "contacts": contacts,
            "total": total,
            "page": page,
            "pages": max(1, math.ceil(total / PAGE_SIZE)),
            "q": q or "",
            "classification": classification or "",
            "unit": unit or "",
            "units": units_in_scope(db_session=session, scope=who.scope),
            "classifications": [c.value for c in Classification],
            "error": error,
        },
        status_code=422 if error else 200,
    )


@dataclass
class ContactHistory:
    calls: list[Call]
    sessions: list[CallSession]
    reports: list[HotlineReport]


def contact_history(*, db_session: Session, contact: Contact, scope: Scope) -> ContactHistory:
    """Every call to the person's numbers, their answers by phone, and their reports."""
    phones = [p for p in [contact.phone, *(contact.alt_phones or [])] if p]
    calls: list[Call] = []
    if phones:
        calls = list(
            db_session.scalars(
                select(Call).where(Call.to_number.in_(phones)).order_by(Call.created_at.desc())
            )
        )
    by_person = [CallSession.contact_id == contact.id]
    if phones:
        by_person.append(CallSession.phone.in_(phones))
    sessions = list(
        db_session.scalars(
            select(CallSession)
            .where(or_(*by_person))
            .options(selectinload(CallSession.answers))
            .order_by(CallSession.started_at.desc())
        )
    )
    reported = [HotlineReport.contact_id == contact.id]
    if phones:
        reported.append(HotlineReport.phone.in_(phones))
    reports = list(
        db_session.scalars(
            within(select(HotlineReport), HotlineReport.unit_id, scope)
            .where(or_(*reported))
            .order_by(HotlineReport.created_at.desc())
        )
    )
    return ContactHistory(calls, sessions, reports)


@router.get("/contacts/{contact_id}", response_class=HTMLResponse)
def contact_page(
    request: Request,
    contact_id: int,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session)],
) -> Response:
    contact = get_contact(
        db_session=session, contact_id=contact_id, within_units=who.scope.unit_ids
    )
    if contact is None:
        raise HTTPException(404, detail=f"no contact {contact_id}")
    history = contact_history(db_session=session, contact=contact, scope=who.scope)
    record_audit(
        db_session=session,
        user=who.user,
        action="contact.view",
        object_type="contact",
        object_id=contact.id,
        unit_id=contact.unit_id,
        client_ip=who.client_ip,
    )
    return render(
        request,
        who,
        "contact.html",
        {
            "contact": contact,
            "history": history,
            "opted_out": bool(contact.phone)
            and is_opted_out(db_session=session, phone=contact.phone or ""),
        },
    )
