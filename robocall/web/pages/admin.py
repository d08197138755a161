"""Administrators: staff accounts, their API tokens and the audit log."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.config import get_settings
from robocall.db import utcnow
from robocall.http.auth import csrf_protect
from robocall.http.deps import db_session
from robocall.users.login import LoginThrottle
from robocall.users.models import Role, User
from robocall.users.service import (
    AuditFilter,
    UserError,
    audit_choices,
    create_user,
    deactivate_user,
    list_api_tokens,
    list_audit,
    record_audit,
    revoke_api_token,
)
from robocall.web.pages.common import Viewer, render, strings, units_in_scope, viewer

router = APIRouter(prefix="/admin", include_in_schema=False)
AUDIT_SHOWN = 500
# Dates as staff write them, typed: a browser's date picker follows the computer's locale.
DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


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
            "slowed": LoginThrottle.shared().slowed(u.username for u in users),
            "tokens": list_api_tokens(db_session=session, live_at=utcnow()),
            "api_token_days": get_settings().api_token_days,
        },
        status_code=status,
    )


@router.get("/users", response_class=HTMLResponse)
def users_page(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> Response:
    who.require_admin()
    return _users_page(request, who, session)


@router.post("/users", dependencies=[Depends(csrf_protect)])
def add_user(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
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
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> Response:
    who.require_admin()
    user = session.get(User, user_id)
    if user is None or change not in ("activate", "deactivate", "unlock"):
        raise HTTPException(404, detail="no such user or change")
    detail: dict[str, Any] = {}
    if change == "deactivate":
        if user.id == who.user.id:
            raise HTTPException(422, detail="you cannot deactivate your own account")
        # Signed out everywhere, API tokens revoked.
        detail["tokens_revoked"] = deactivate_user(db_session=session, user=user)
    elif change == "activate":
        user.is_active = True
    else:
        LoginThrottle.shared().clear(user.username)  # its failing addresses wait no more
    record_audit(
        db_session=session,
        user=who.user,
        action=f"user.{change}",
        object_type="user",
        object_id=user.id,
        unit_id=user.unit_id,
        detail=detail,
        client_ip=who.client_ip,
    )
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/tokens/{token_id}/revoke", dependencies=[Depends(csrf_protect)])
def revoke_token(
    token_id: int,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> Response:
    """Revoke an API token: the script using it gets 401 from now on."""
    who.require_admin()
    token = revoke_api_token(db_session=session, token_id=token_id)
    if token is None:
        raise HTTPException(404, detail=f"no API token {token_id}")
    record_audit(
        db_session=session,
        user=who.user,
        action="user.token_revoke",
        object_type="api_token",
        object_id=token.id,
        unit_id=token.user.unit_id,
        detail={"username": token.user.username, "name": token.name},
        client_ip=who.client_ip,
    )
    return RedirectResponse("/admin/users", status_code=303)


def _day(text: str | None) -> dt.date | None:
    """A dd/mm/yyyy date (ValueError otherwise); None when empty."""
    text = (text or "").strip()
    if not text:
        return None
    found = DATE.fullmatch(text)
    if found is None:
        raise ValueError(f"not dd/mm/yyyy: {text!r}")
    day, month, year = (int(part) for part in found.groups())
    return dt.date(year, month, day)


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=get_settings().zone)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
    user: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    object_type: Annotated[str | None, Query(max_length=64)] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    date_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> Response:
    """The audit log, newest first: by user, action, object and days (dd/mm/yyyy, in the
    health centre's zone, both days included)."""
    who.require_admin()
    shown = {
        "user": user or "",
        "action": action or "",
        "object_type": object_type or "",
        "object_id": object_id or "",
        "from": date_from or "",
        "to": date_to or "",
    }
    actions, object_types = audit_choices(db_session=session)
    context = {"shown": shown, "actions": actions, "object_types": object_types}
    try:
        first, last = _day(date_from), _day(date_to)
    except ValueError:
        error = strings()[who.lang]["audit_bad_date"]
        return render(request, who, "audit.html", {**context, "entries": [], "error": error}, 422)
    filters = AuditFilter(
        username=user or None,
        action=action or None,
        object_type=object_type or None,
        object_id=object_id or None,
        since=_local_midnight(first) if first else None,
        before=_local_midnight(last + dt.timedelta(days=1)) if last else None,
    )
    entries = list_audit(db_session=session, filters=filters, limit=AUDIT_SHOWN)
    return render(request, who, "audit.html", {**context, "entries": entries, "error": None})
