"""Browser hardening: security headers on every response, the API's docs for staff only."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from robocall.users.models import User
from robocall.web.auth import api_user, page_user

# The pages load only their own scripts (static/*.js), never inline ones, so an injected
# <script> or on* attribute does not run. Inline style attributes stay allowed: progress bars
# and chart legends set a width or colour in the markup, and CSS cannot run code.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HSTS = "max-age=31536000"  # a year, in seconds; not includeSubDomains: other sites share the domain

# Swagger UI comes from the CDN FastAPI names, started by one inline script (allowed by its hash).
_DOCS_CDN = "https://cdn.jsdelivr.net"
_DOCS_ICON = "https://fastapi.tiangolo.com"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


class SecurityHeaders:
    """Adds the security headers to every HTTP response that does not set its own."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.headers = [
            ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "same-origin"),
        ]
        if https:
            # Only when served over https: over plain http the header would be ignored anyway,
            # and a development server on http must stay reachable.
            self.headers.append(("Strict-Transport-Security", HSTS))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def docs_policy(page: bytes) -> str:
    """The Content-Security-Policy of the Swagger UI page: its CDN and its own inline script."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(page)
    )
    return (
        f"default-src 'self'; script-src 'self' {_DOCS_CDN} {hashes}; "
        f"style-src 'self' 'unsafe-inline' {_DOCS_CDN}; img-src 'self' data: {_DOCS_ICON}; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


# The API's description lists every endpoint and field: for signed-in staff and API tokens.
docs_router = APIRouter(include_in_schema=False)


@docs_router.get("/openapi.json")
def openapi_schema(request: Request, _user: User = Depends(api_user)) -> JSONResponse:
    """The OpenAPI description (401 without a session or token)."""
    return JSONResponse(request.app.openapi())


@docs_router.get("/docs", response_class=HTMLResponse)
def api_docs(_user: User = Depends(page_user)) -> HTMLResponse:
    """Swagger UI (the login page first for anyone not signed in)."""
    page = get_swagger_ui_html(openapi_url="/openapi.json", title="robocall API")
    page.headers["Content-Security-Policy"] = docs_policy(bytes(page.body))
    return page
