"""Contacts: search and filter, and one person's page with every call, answer and report."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from robocall.campaigns.models import Attempt, Target
from robocall.contacts.models import Classification, Contact
from robocall.contacts.service import ContactQueryError, get_contact, is_opted_out, list_contacts
from robocall.hotline.models import HotlineReport
from robocall.hotline.scoping import reports_within
from robocall.http.deps import db_session
from robocall.ivr.models import CallSession
from robocall.telephony.models import Call
from robocall.users.scoping import within
from robocall.users.service import Scope, record_audit, rows_shown
from robocall.web.pages.common import Viewer, render, units_in_scope, viewer

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@router.get("/contacts", response_class=HTMLResponse)
def contacts_page(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
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
    # What was searched for is a name or a phone: the entry says only that there was a search.
    record_audit(
        db_session=session,
        user=who.user,
        action="contact.list",
        object_type="contact",
        detail=rows_shown(
            [c["id"] for c in contacts],
            unit=unit or None,
            classification=classification or None,
            search=bool(q),
            page=page,
        ),
        client_ip=who.client_ip,
    )
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
    """The calls, answers and reports at the person's numbers that were made for, or are
    about, a contact the viewer may see. A number another unit's list also holds shows this
    viewer nothing of the calls made for that unit's people."""
    phones = [p for p in [contact.phone, *(contact.alt_phones or [])] if p]
    mine = {contact.id}
    if phones:
        mine |= set(
            db_session.scalars(
                within(select(Contact.id), Contact.unit_id, scope).where(Contact.phone.in_(phones))
            )
        )
    reported = [HotlineReport.contact_id == contact.id]
    if phones:
        reported.append(HotlineReport.phone.in_(phones))
    reports = list(
        db_session.scalars(
            reports_within(select(HotlineReport), scope)
            .where(or_(*reported))
            .order_by(HotlineReport.created_at.desc())
        )
    )
    if not phones:
        return ContactHistory([], [], reports)
    calls = list(
        db_session.scalars(
            select(Call).where(Call.to_number.in_(phones)).order_by(Call.created_at.desc())
        )
    )
    sessions = list(
        db_session.scalars(
            select(CallSession)
            .where(or_(CallSession.contact_id == contact.id, CallSession.phone.in_(phones)))
            .options(selectinload(CallSession.answers))
            .order_by(CallSession.started_at.desc())
        )
    )
    # A campaign call was made for everyone of its household (the target's contacts).
    sids = [c.sid for c in calls] + [s.call_sid for s in sessions]
    made_for: dict[str, set[int]] = {}
    for call_sid, contact_ids in db_session.execute(
        select(Attempt.call_sid, Target.contact_ids)
        .join(Target, Target.id == Attempt.target_id)
        .where(Attempt.call_sid.in_(sids))
    ):
        if call_sid is not None:
            made_for[call_sid] = set(contact_ids or [])
    reported_sessions = {r.call_session_id for r in reports if r.call_session_id is not None}

    def session_is_mine(call_session: CallSession) -> bool:
        if call_session.call_sid in made_for:
            return bool(made_for[call_session.call_sid] & mine)
        if call_session.contact_id is not None:
            return call_session.contact_id in mine
        if call_session.id in reported_sessions:
            return True
        return call_session.unit_id is not None and scope.allows(call_session.unit_id)

    sessions = [s for s in sessions if session_is_mine(s)]
    session_sids = {s.call_sid for s in sessions}
    calls = [c for c in calls if c.sid in session_sids or bool(made_for.get(c.sid, set()) & mine)]
    return ContactHistory(calls, sessions, reports)


@router.get("/contacts/{contact_id}", response_class=HTMLResponse)
def contact_page(
    request: Request,
    contact_id: int,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
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
            and is_opted_out(
                db_session=session, phone=contact.phone or "", unit_ids=[contact.unit_id]
            ),
        },
    )
