"""Hardening: security headers on every response, the API's docs for staff only, the
client's address behind a trusted proxy, and request bodies limited before they are read."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from robocall.config import IPNetwork, get_settings
from robocall.http.auth import CSRF_FIELD, api_user, page_user, upload_sender
from robocall.users.models import User
from robocall.users.service import request_client_ip
from robocall.web.pages.common import error_page, strings

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

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


# --- the client's address ---------------------------------------------------------------------


def forwarded_client(
    peer: str | None, forwarded_for: Iterable[str], trusted: tuple[IPNetwork, ...]
) -> str | None:
    """The client's address: the peer's, unless the peer is a trusted proxy; then the last
    address of X-Forwarded-For that is not a trusted proxy (each proxy appends the address it
    was reached from, so the ones before it could have been written by anyone)."""
    if not trusted or peer is None or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    address = peer
    for hop in reversed(hops):
        try:
            ip = ipaddress.ip_address(hop)
        except ValueError:
            break  # not written by a proxy: the nearest proxy is all that is known
        address = str(ip)
        if not any(ip in network for network in trusted):
            break
    return address


def _is_trusted(peer: str, trusted: tuple[IPNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


class ClientAddress:
    """Puts the client's address (`forwarded_client`, with ROBOCALL_TRUSTED_PROXIES) in
    scope["client"], where sign-in delays and audit entries read it, and in
    `request_client_ip` for audit entries written without naming it."""

    def __init__(self, app: ASGIApp, *, trusted: tuple[IPNetwork, ...]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        peer = client[0] if client else None
        forwarded = Headers(scope=scope).getlist("x-forwarded-for") if self.trusted else []
        address = forwarded_client(peer, forwarded, self.trusted)
        if address != peer:
            scope["client"] = (address, client[1] if client else 0)
        token = request_client_ip.set(address)
        try:
            await self.app(scope, receive, send)
        finally:
            request_client_ip.reset(token)


# --- request bodies ---------------------------------------------------------------------------

# Bytes of a form or JSON body: the forms are a few fields; a campaign made through the API
# with a list of people fits some 10,000 contact ids.
FORM_MAX_BYTES = 64 * 1024
# Bytes an upload may carry beyond ROBOCALL_IMPORT_MAX_BYTES: part headers and the form's
# other fields (unit, classification, CSRF token).
MULTIPART_OVERHEAD = 64 * 1024
UPLOADS = frozenset({"/upload", "/api/imports"})  # POSTed spreadsheets
# Bytes of an upload read, at most, to find its CSRF token (browsers send the form's fields in
# their order; robocall's upload form puts the token before the file).
CSRF_SEARCH_BYTES = 64 * 1024


def too_large_message(limit: int) -> str:
    """The 413's words, in both languages (the body is refused before its language is known)."""
    words = strings()
    size = f"{limit / 1024:.0f} KiB" if limit < 1024 * 1024 else f"{limit / 1048576:.0f} MB"
    return f"{words['vi']['body_too_large']} / {words['en']['body_too_large']}".format(limit=size)


class BodyTooLarge(HTTPException):
    """The body passed its limit while it was being read (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=too_large_message(limit))


class _CountedReceive:
    """The request's messages, refused (BodyTooLarge) once their bodies pass `limit` bytes."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self.receive = receive
        self.limit = limit
        self.received = 0  # bytes

    async def __call__(self) -> Message:
        if self.received > self.limit:
            raise BodyTooLarge(self.limit)
        message = await self.receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                raise BodyTooLarge(self.limit)
        return message


class _Replay:
    """Messages already read (to find the CSRF token) given to the app first, then the rest."""

    def __init__(self, messages: list[Message], receive: Receive) -> None:
        self.messages = messages
        self.receive = receive

    async def __call__(self) -> Message:
        if self.messages:
            return self.messages.pop(0)
        return await self.receive()


def route_path(scope: Scope) -> str:
    """The request's path within the application (without the root path it is served at)."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def refusal(scope: Scope, status_code: int, detail: str) -> Response:
    """An answer given before the app runs, as the app answers: JSON for the API, a page in
    the visitor's language otherwise."""
    if route_path(scope).startswith("/api/"):
        return JSONResponse({"detail": detail}, status_code=status_code)
    return error_page(Request(scope), status_code, detail)


class RequestLimits:
    """Refuses a body over its limit before it is read, and an upload from anyone who may not
    import before its file is read.

    The limit is FORM_MAX_BYTES, or for an upload (POST /upload, /api/imports)
    ROBOCALL_IMPORT_MAX_BYTES plus MULTIPART_OVERHEAD. A Content-Length over it is answered
    413 at once; a body without one (chunked) is counted as it arrives and refused when it
    passes the limit. Provider webhooks never come here: they are an application of their
    own (`robocall.web.webhooks`), whose signature dependency limits a body to
    `webhook_auth.MAX_BODY`. Sits inside the session middleware: an upload's sender is known
    by its cookie.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "POST" and route_path(scope) in UPLOADS
        limit = get_settings().import_max_bytes + MULTIPART_OVERHEAD if upload else FORM_MAX_BYTES
        headers = Headers(scope=scope)
        declared = _content_length(headers)
        if declared is not None and declared > limit:
            await refusal(scope, 413, too_large_message(limit))(scope, receive, send)
            return
        counted: Receive = _CountedReceive(receive, limit)
        if upload:
            refused, counted = await self._check_uploader(scope, headers, counted)
            if refused is not None:
                await refused(scope, receive, send)
                return
        started = False

        async def send_started(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, send_started)
        except BodyTooLarge as exc:  # raised where the app does not answer it itself
            if started:
                raise
            await refusal(scope, 413, str(exc.detail))(scope, receive, send)

    async def _check_uploader(
        self, scope: Scope, headers: Headers, receive: Receive
    ) -> tuple[Response | None, Receive]:
        """A refusal for an upload its sender may not make (with the body unread, or only
        its fields before the file when the CSRF token is among them), and the messages for
        the app."""
        sender = await run_in_threadpool(upload_sender, scope)
        if sender.refusal == 401:
            if route_path(scope).startswith("/api/"):
                return refusal(scope, 401, "sign in or send an API token"), receive
            return RedirectResponse(f"/login?next={quote('/upload')}", status_code=303), receive
        if sender.refusal is not None:
            return refusal(scope, sender.refusal, "your role may only read"), receive
        if sender.csrf is None:
            return None, receive  # a Bearer token: no cookie, so nothing to forge
        sent = headers.get("x-csrf-token")
        messages: list[Message] = []
        if sent is None:
            try:
                sent, messages = await leading_field(
                    receive, headers.get("content-type", ""), CSRF_FIELD, CSRF_SEARCH_BYTES
                )
            except BodyTooLarge as exc:
                return refusal(scope, 413, str(exc.detail)), receive
        expected = sender.csrf
        if not expected or not sent or not secrets.compare_digest(sent.encode(), expected.encode()):
            return refusal(scope, 403, "CSRF token missing or wrong; reload the page"), receive
        return None, _Replay(messages, receive)


def _content_length(headers: Headers) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None


async def leading_field(
    receive: Receive, content_type: str, name: str, search_bytes: int
) -> tuple[str | None, list[Message]]:
    """The value of the multipart form field `name` when it comes before any file, within
    the body's first `search_bytes`; and the messages read to find it."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        return None, []
    fields = _LeadingFields(name)
    parser = MultipartParser(boundary, fields.callbacks())
    messages: list[Message] = []
    read = 0
    while not fields.done and read <= search_bytes:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        read += len(chunk)
        try:
            parser.write(chunk)
        except Exception:  # not multipart data as declared: no token found in it
            return None, messages
        if not message.get("more_body", False):
            break
    return fields.value, messages


class _LeadingFields:
    """Multipart callbacks noting one text field, stopping at the first file."""

    MAX_VALUE = 1024  # bytes: a CSRF token is 43

    def __init__(self, name: str) -> None:
        self.name = name.encode()
        self.value: str | None = None
        self.done = False
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._wanted = False
        self._data = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_part,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._disposition = b""
        self._wanted = False
        self._data.clear()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_part(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"filename" in options:
            self.done = True  # the file comes before the field: not found
        self._wanted = not self.done and options.get(b"name") == self.name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._wanted and len(self._data) <= self.MAX_VALUE:
            self._data += data[start:end]

    def _part_end(self) -> None:
        if self._wanted and not self.done:
            self.value = self._data.decode("utf-8", "replace")
            self.done = True
