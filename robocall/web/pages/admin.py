"""Administrators: staff accounts and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.users.models import Role, User
from robocall.users.service import UserError, create_user, list_audit, record_audit
from robocall.web.auth import csrf_protect
from robocall.web.deps import db_session
from robocall.web.pages.common import Viewer, render, units_in_scope, viewer

router = APIRouter(prefix="/admin", include_in_schema=False)
AUDIT_SHOWN = 500


def _users_page(
    request: Request, who: Viewer, session: Session, error: str | None = None, status: int = 200
) -> Response:
    users = list(session.scalars(select(User).order_by(User.username)))
    return render(
        request,
        who,
        "users.html",
        {
            "users": users,
            "roles": [r.value for r in Role],
            "units": units_in_scope(db_session=session, scope=who.scope),
            "error": error,
        },
        status_code=status,
    )


@router.get("/users", response_class=HTMLResponse)
def users_page(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session)],
) -> Response:
    who.require_admin()
    return _users_page(request, who, session)


@router.post("/users", dependencies=[Depends(csrf_protect)])
def add_user(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session)],
    username: Annotated[str, Form()],
    role: Annotated[str, Form()],
    password: Annotated[str, Form()],
    unit: Annotated[str, Form()] = "",
    full_name: Annotated[str, Form()] = "",
) -> Response:
    who.require_admin()
    try:
        chosen = Role(role)
    except ValueError:
        return _users_page(request, who, session, error=f"role: unknown {role!r}", status=422)
    try:
        user = create_user(
            db_session=session,
            username=username,
            role=chosen,
            unit_code=unit or None,
            password=password,
            full_name=full_name,
        )
    except UserError as exc:
        session.rollback()
        return _users_page(request, who, session, error=str(exc), status=422)
    record_audit(
        db_session=session,
        user=who.user,
        action="user.create",
        object_type="user",
        object_id=user.id,
        unit_id=user.unit_id,
        detail={"username": user.username, "role": chosen.value},
        client_ip=who.client_ip,
    )
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{user_id}/{change}", dependencies=[Depends(csrf_protect)])
def change_user(
    user_id: int,
    change: str,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session)],
) -> Response:
    who.require_admin()
    user = session.get(User, user_id)
    if user is None or change not in ("activate", "deactivate", "unlock"):
        raise HTTPException(404, detail="no such user or change")
    if change == "deactivate":
        if user.id == who.user.id:
            raise HTTPException(422, detail="you cannot deactivate your own account")
        user.is_active = False
        user.session_version += 1  # signed out everywhere
    elif change == "activate":
        user.is_active = True
    else:
        user.locked_until = None
        user.failed_logins = 0
    record_audit(
        db_session=session,
        user=who.user,
        action=f"user.{change}",
        object_type="user",
        object_id=user.id,
        unit_id=user.unit_id,
        client_ip=who.client_ip,
    )
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session)],
) -> Response:
    who.require_admin()
    entries = list_audit(db_session=session, limit=AUDIT_SHOWN)
    return render(request, who, "audit.html", {"entries": entries})
