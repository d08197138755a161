"""Who is asking: session cookie (pages) or Bearer token (scripts); CSRF on every form."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session
from starlette.types import Scope as AsgiScope

from robocall.db import get_sessionmaker
from robocall.http.deps import db_session
from robocall.users.models import Role, User
from robocall.users.service import Scope, can_change, scope_of, user_for_token

CSRF_FIELD = "csrf_token"


class LoginRequired(Exception):
    """A page needs a signed-in user: the app redirects to the login page."""


def csrf_token(request: Request) -> str:
    """This browser session's CSRF token (created on first use)."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


async def csrf_protect(request: Request) -> None:
    """Refuse a form post whose CSRF token is missing or not this session's (403)."""
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return  # scripts with a token send no cookie, so cross-site forgery does not apply
    form = await request.form()
    sent = str(form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or "")
    expected = str(request.session.get("csrf") or "")
    # Compared as bytes: compare_digest refuses non-ASCII text (a 500 instead of this 403).
    if not expected or not sent or not secrets.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(status_code=403, detail="CSRF token missing or wrong; reload the page")


def client_ip(request: Request) -> str | None:
    """The client's address (a trusted proxy's X-Forwarded-For already applied by the
    ClientAddress middleware)."""
    return request.client.host if request.client else None


def _user_from_request(request: Request, session: Session, *, touch: bool = True) -> User | None:
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        token = authorization[7:].strip()
        user = user_for_token(db_session=session, token=token, touch=touch)
        if user is None:
            raise HTTPException(status_code=401, detail="invalid, expired or revoked API token")
        return user
    user_id = request.session.get("uid")
    if user_id is None:
        return None
    user = session.get(User, int(user_id))
    if user is None or not user.is_active or request.session.get("sv") != user.session_version:
        request.session.clear()
        return None
    return user


def api_user(request: Request, session: Session = Depends(db_session, scope="function")) -> User:
    """The signed-in user of an API call, or 401."""
    user = _user_from_request(request, session)
    if user is None:
        raise HTTPException(status_code=401, detail="sign in or send an API token")
    return user


def page_user(request: Request, session: Session = Depends(db_session, scope="function")) -> User:
    """The signed-in user of a page, or a redirect to the login page."""
    user = _user_from_request(request, session)
    if user is None:
        raise LoginRequired()
    return user


def user_scope(
    user: User = Depends(api_user), session: Session = Depends(db_session, scope="function")
) -> Scope:
    """The units the API caller may see."""
    return scope_of(db_session=session, user=user)


def require_change(user: User) -> None:
    """403 for read-only users."""
    if not can_change(user):
        raise HTTPException(status_code=403, detail="your role may only read")


def require_admin(user: User) -> None:
    """403 unless admin."""
    if user.role is not Role.admin:
        raise HTTPException(status_code=403, detail="administrators only")


def sign_in(request: Request, user: User) -> None:
    request.session.clear()
    request.session["uid"] = user.id
    request.session["sv"] = user.session_version
    csrf_token(request)


@dataclass(frozen=True)
class UploadSender:
    """Whether the sender of an upload may import, known before its body is read."""

    # 401 (nobody signed in) or 403 (a role that may only read); None: may import.
    refusal: int | None
    # The cookie session's CSRF token, which the upload must carry; None for a Bearer token,
    # which sends no cookie, so there is nothing to forge.
    csrf: str | None


def upload_sender(scope: AsgiScope) -> UploadSender:
    """Who sends this upload, from its headers and session cookie alone (the body unread).

    Reads the database only (closed without a commit): using the token is recorded when the
    request itself runs.
    """
    request = Request(scope)
    with get_sessionmaker()() as session:
        try:
            user = _user_from_request(request, session, touch=False)
        except HTTPException as refused:  # a Bearer token that is not (or no longer) valid
            return UploadSender(refusal=refused.status_code, csrf=None)
        if user is None:
            return UploadSender(refusal=401, csrf=None)
        refusal = None if can_change(user) else 403
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return UploadSender(refusal=refusal, csrf=None)
    return UploadSender(refusal=refusal, csrf=str(request.session.get("csrf") or ""))
