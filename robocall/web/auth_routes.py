"""Sign in and out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from robocall.users.models import User
from robocall.users.service import LoginRefused, authenticate, record_audit
from robocall.web.auth import api_user, csrf_protect, csrf_token, page_user, sign_in
from robocall.web.deps import db_session
from robocall.web.i18n import language

router = APIRouter()
templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a signed-in user to another site."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _login_page(request: Request, error: str | None, status_code: int = 200) -> Response:
    lang = language(request)
    response = templates.TemplateResponse(
        request,
        "login.html",
        {
            "lang": lang,
            "csrf_token": csrf_token(request),
            "error": error,
            "next": _safe_next(request.query_params.get("next")),
        },
        status_code=status_code,
    )
    response.set_cookie("lang", lang, samesite="lax")
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request) -> Response:
    return _login_page(request, None)


@router.post("/login", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next_path: Annotated[str, Form(alias="next")] = "/",
    session: Session = Depends(db_session),
) -> Response:
    try:
        user = authenticate(db_session=session, username=username, password=password)
    except LoginRefused as refused:
        # The failed-attempt count must be kept even though the login is refused.
        session.commit()
        error = "locked" if refused.locked_until else "wrong"
        return _login_page(request, error, status_code=423 if refused.locked_until else 401)
    sign_in(request, user)
    record_audit(
        db_session=session,
        user=user,
        action="user.login",
        client_ip=request.client.host if request.client else None,
    )
    return RedirectResponse(_safe_next(next_path), status_code=303)


@router.post("/logout", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def logout(
    request: Request, user: User = Depends(page_user), session: Session = Depends(db_session)
) -> Response:
    user.session_version += 1  # every other browser signed in as this user is signed out too
    record_audit(db_session=session, user=user, action="user.logout")
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/api/me")
def me(user: User = Depends(api_user)) -> dict[str, object]:
    """Who the caller is, with their role and unit."""
    return {
        "username": user.username,
        "full_name": user.full_name,
        "role": user.role.value,
        "unit": user.unit.code if user.unit else None,
    }
