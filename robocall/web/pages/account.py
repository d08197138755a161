"""The signed-in user's own account: changing their password."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from robocall.http.auth import csrf_protect, sign_in
from robocall.http.deps import db_session
from robocall.users.login import LoginRefused, change_own_password
from robocall.users.service import MIN_PASSWORD_LENGTH, record_audit
from robocall.web.pages.common import Viewer, render, viewer

router = APIRouter(prefix="/account", include_in_schema=False)


def _password_page(
    request: Request, who: Viewer, *, error: str | None = None, status: int = 200
) -> Response:
    context = {
        "min_length": MIN_PASSWORD_LENGTH,
        "error": error,  # a key of strings.yaml after "password_"
        "changed": request.query_params.get("changed") == "1",
    }
    return render(request, who, "account_password.html", context, status_code=status)


@router.get("/password", response_class=HTMLResponse)
def password_form(request: Request, who: Annotated[Viewer, Depends(viewer)]) -> Response:
    return _password_page(request, who)


@router.post("/password", dependencies=[Depends(csrf_protect)])
def change_password(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
    current_password: Annotated[str, Form()],
    new_password: Annotated[str, Form()],
    confirm_password: Annotated[str, Form()],
) -> Response:
    """Change one's own password; every other browser signed in as this user is signed out."""
    if new_password != confirm_password:
        return _password_page(request, who, error="mismatch", status=422)
    if len(new_password) < MIN_PASSWORD_LENGTH:
        return _password_page(request, who, error="too_short", status=422)
    try:
        revoked = change_own_password(
            db_session=session,
            user=who.user,
            current_password=current_password,
            new_password=new_password,
            address=who.client_ip,
        )
    except LoginRefused as refused:
        # A wrong current password slows the next tries, as at sign-in.
        if refused.retry_after:
            page = _password_page(request, who, error="throttled", status=429)
            page.headers["Retry-After"] = str(math.ceil(refused.retry_after))
            return page
        return _password_page(request, who, error="wrong", status=403)
    record_audit(
        db_session=session,
        user=who.user,
        action="user.password_change",
        object_type="user",
        object_id=who.user.id,
        detail={"tokens_revoked": revoked},
        client_ip=who.client_ip,
    )
    # The change ended every session of the user (`set_password`); this browser signs in
    # again with the new session version, so only the others are signed out.
    sign_in(request, who.user)
    return RedirectResponse("/account/password?changed=1", status_code=303)
