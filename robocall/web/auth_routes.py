"""Sign in and out."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from robocall.http.auth import api_user, client_ip, csrf_protect, csrf_token, page_user, sign_in
from robocall.http.deps import db_session
from robocall.users.login import (
    LoginCandidate,
    LoginRefused,
    begin_login,
    finish_login,
    password_matches_off_loop,
)
from robocall.users.models import User
from robocall.users.service import record_audit
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


def _login_page(
    request: Request, error: str | None, status_code: int = 200, retry_after: int = 0
) -> Response:
    lang = language(request)
    response = templates.TemplateResponse(
        request,
        "login.html",
        {
            "lang": lang,
            "csrf_token": csrf_token(request),
            "error": error,
            "retry_after": retry_after,
            "next": _safe_next(request.query_params.get("next")),
        },
        status_code=status_code,
        headers={"Retry-After": str(retry_after)} if retry_after else None,
    )
    response.set_cookie("lang", lang, samesite="lax")
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request) -> Response:
    return _login_page(request, None)


def _look_up(session: Session, username: str, address: str | None) -> LoginCandidate:
    try:
        return begin_login(db_session=session, username=username, address=address)
    finally:
        # Ended before the password check: a transaction open through it would keep others
        # waiting (with SQLite, every other writer, and /healthz).
        session.commit()


@router.post("/login", include_in_schema=False, dependencies=[Depends(csrf_protect)])
async def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next_path: Annotated[str, Form(alias="next")] = "/",
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    """Sign in. Unknown and known usernames get the same answers in the same time: a wrong
    password is 401 after one password check; too many tries is 429 with Retry-After, at once."""
    address = client_ip(request)
    try:
        candidate = await run_in_threadpool(_look_up, session, username, address)
        matched = await password_matches_off_loop(candidate, password)
        user = await run_in_threadpool(
            partial(
                finish_login,
                db_session=session,
                candidate=candidate,
                matched=matched,
                password=password,
                address=address,
            )
        )
    except LoginRefused as refused:
        if refused.retry_after:
            wait = math.ceil(refused.retry_after)
            return _login_page(request, "throttled", status_code=429, retry_after=wait)
        return _login_page(request, "wrong", status_code=401)
    sign_in(request, user)
    record_audit(db_session=session, user=user, action="user.login", client_ip=address)
    return RedirectResponse(_safe_next(next_path), status_code=303)


@router.post("/logout", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def logout(
    request: Request,
    user: User = Depends(page_user),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    user.session_version += 1  # every other browser signed in as this user is signed out too
    record_audit(db_session=session, user=user, action="user.logout", client_ip=client_ip(request))
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
