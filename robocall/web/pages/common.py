"""What every page shares: who is looking, what they may see, the layout's words and nav."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.config import get_settings
from robocall.http.auth import csrf_token, page_user
from robocall.http.deps import db_session
from robocall.units.models import Unit
from robocall.users.models import Role, User
from robocall.users.service import Scope, can_change, scope_of
from robocall.web.i18n import LANGUAGES, language

WEB_DIR = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=WEB_DIR / "templates")


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str  # a key of strings.yaml
    admin_only: bool = False


# The layout's navigation, in order. A new page adds one line here.
NAV: list[NavItem] = [
    NavItem("/", "nav_dashboard"),
    NavItem("/upload", "nav_upload"),
    NavItem("/campaigns", "nav_campaigns"),
    NavItem("/contacts", "nav_contacts"),
    NavItem("/reports", "nav_reports"),
    NavItem("/exports", "nav_exports"),
    NavItem("/opt-outs", "nav_optouts"),
    NavItem("/admin/users", "nav_users", admin_only=True),
    NavItem("/admin/audit", "nav_audit", admin_only=True),
]


@cache
def strings() -> dict[str, dict[str, str]]:
    """The UI's words per language, from strings.yaml."""
    raw = yaml.safe_load((WEB_DIR / "strings.yaml").read_text(encoding="utf-8"))
    words: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for key, value in raw.items():
        if key == "version":
            continue
        for lang in LANGUAGES:
            words[lang][str(key)] = str(value[lang])
    return words


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of a page, the units they see, and their language."""

    user: User
    scope: Scope
    lang: str
    client_ip: str | None

    @property
    def is_admin(self) -> bool:
        return self.user.role is Role.admin

    @property
    def can_change(self) -> bool:
        return can_change(self.user)

    def require_change(self) -> None:
        if not self.can_change:
            raise HTTPException(status_code=403, detail="your role may only read")

    def require_admin(self) -> None:
        if not self.is_admin:
            raise HTTPException(status_code=403, detail="administrators only")


def viewer(
    request: Request,
    user: User = Depends(page_user),
    session: Session = Depends(db_session, scope="function"),
) -> Viewer:
    """The page's viewer (a redirect to the login page when nobody is signed in)."""
    return Viewer(
        user=user,
        scope=scope_of(db_session=session, user=user),
        lang=language(request),
        client_ip=request.client.host if request.client else None,
    )


def units_in_scope(*, db_session: Session, scope: Scope) -> list[Unit]:
    """The units a user may choose, by level then name."""
    units = db_session.scalars(select(Unit).order_by(Unit.level, Unit.name))
    return [u for u in units if scope.allows(u.id)]


def local_today() -> dt.date:
    return dt.datetime.now(get_settings().zone).date()


def _local(value: dt.datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(get_settings().zone).strftime(fmt)


def _date(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


templates.env.filters["local"] = _local
templates.env.filters["date"] = _date


def render(
    request: Request,
    who: Viewer,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """A page in the viewer's language, with the layout's nav and sign-out form."""
    words = strings()[who.lang]
    nav = [
        (item.path, words[item.label], request.url.path == item.path)
        for item in NAV
        if who.is_admin or not item.admin_only
    ]
    response = templates.TemplateResponse(
        request,
        template,
        {
            "lang": who.lang,
            "t": words,
            "csrf_token": csrf_token(request),
            "viewer": who,
            "user": who.user,
            "nav": nav,
            **(context or {}),
        },
        status_code=status_code,
    )
    response.set_cookie("lang", who.lang, samesite="lax")
    return response


def error_page(request: Request, status_code: int, detail: str) -> Response:
    """A refusal (403, 404, 422) as a page in the visitor's language."""
    lang = language(request)
    return templates.TemplateResponse(
        request,
        "error.html",
        {"lang": lang, "t": strings()[lang], "status_code": status_code, "detail": detail},
        status_code=status_code,
    )
