"""Who is asking: session cookie (pages) or Bearer token (scripts); CSRF on every form."""

from __future__ import annotations

import secrets

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from robocall.users.models import Role, User
from robocall.users.service import Scope, can_change, scope_of, user_for_token
from robocall.web.deps import db_session

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


def _user_from_request(request: Request, session: Session) -> User | None:
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        user = user_for_token(db_session=session, token=authorization[7:].strip())
        if user is None:
            raise HTTPException(status_code=401, detail="invalid or revoked API token")
        return user
    user_id = request.session.get("uid")
    if user_id is None:
        return None
    user = session.get(User, int(user_id))
    if user is None or not user.is_active or request.session.get("sv") != user.session_version:
        request.session.clear()
        return None
    return user


def api_user(request: Request, session: Session = Depends(db_session)) -> User:
    """The signed-in user of an API call, or 401."""
    user = _user_from_request(request, session)
    if user is None:
        raise HTTPException(status_code=401, detail="sign in or send an API token")
    return user


def page_user(request: Request, session: Session = Depends(db_session)) -> User:
    """The signed-in user of a page, or a redirect to the login page."""
    user = _user_from_request(request, session)
    if user is None:
        raise LoginRequired()
    return user


def user_scope(user: User = Depends(api_user), session: Session = Depends(db_session)) -> Scope:
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
