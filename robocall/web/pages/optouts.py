"""Numbers that asked not to be called or messaged: list, add, remove."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.contacts.phones import normalize_phone
from robocall.contacts.service import (
    add_opt_out,
    list_opt_outs,
    may_remove_opt_out,
    remove_opt_out,
    visible_opt_out,
)
from robocall.http.auth import csrf_protect
from robocall.http.deps import db_session
from robocall.units.models import Unit
from robocall.users.service import record_audit
from robocall.web.pages.common import Viewer, render, strings, viewer

router = APIRouter(include_in_schema=False)


def _page(
    request: Request, who: Viewer, session: Session, error: str | None = None, status: int = 200
) -> Response:
    opt_outs = list_opt_outs(db_session=session, within_units=who.scope.unit_ids)
    unit_names = {uid: name for uid, name in session.execute(select(Unit.id, Unit.name))}
    return render(
        request,
        who,
        "optouts.html",
        {"opt_outs": opt_outs, "unit_names": unit_names, "error": error},
        status_code=status,
    )


@router.get("/opt-outs", response_class=HTMLResponse)
def optouts_page(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> Response:
    return _page(request, who, session)


@router.post("/opt-outs", dependencies=[Depends(csrf_protect)])
def optout_add(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
    phone: Annotated[str, Form(max_length=40)],
    reason: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    """Staff's opt-out: for the contacts of the user's unit and the units below it."""
    who.require_change()
    e164 = normalize_phone(phone)
    if e164 is None:
        message = strings()[who.lang]["optout_bad_phone"].format(phone=phone)
        return _page(request, who, session, error=message, status=422)
    opt_out = add_opt_out(
        db_session=session,
        phone=e164,
        reason=reason.strip(),
        unit_id=who.user.unit_id,
        created_by=who.user.username,
    )
    record_audit(
        db_session=session,
        user=who.user,
        action="optout.add",
        object_type="opt_out",
        object_id=opt_out.id,
        unit_id=opt_out.unit_id,
        detail={"reason": reason.strip()},
        client_ip=who.client_ip,
    )
    return RedirectResponse("/opt-outs", status_code=303)


@router.post("/opt-outs/{opt_out_id}/remove", dependencies=[Depends(csrf_protect)])
def optout_remove(
    request: Request,
    opt_out_id: int,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
    reason: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    opt_out = visible_opt_out(
        db_session=session, opt_out_id=opt_out_id, within_units=who.scope.unit_ids
    )
    if opt_out is None:
        raise HTTPException(404, detail=f"no opt-out {opt_out_id}")
    who.require_change()
    if not may_remove_opt_out(opt_out, who.scope.unit_ids):
        raise HTTPException(403, detail=strings()[who.lang]["optout_not_yours"])
    if opt_out.by_resident and not reason.strip():
        message = strings()[who.lang]["optout_lift_reason_needed"]
        return _page(request, who, session, error=message, status=422)
    record_audit(
        db_session=session,
        user=who.user,
        action="optout.remove",
        object_type="opt_out",
        object_id=opt_out_id,
        unit_id=opt_out.unit_id,
        detail={"reason": reason.strip(), "resident": opt_out.by_resident},
        client_ip=who.client_ip,
    )
    remove_opt_out(db_session=session, opt_out=opt_out)
    return RedirectResponse("/opt-outs", status_code=303)
