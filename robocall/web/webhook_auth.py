"""Provider webhooks: registered as plain routes, each checks X-Twilio-Signature (or 403)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request, Response
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from robocall.config import get_settings
from robocall.telephony.service import WEBHOOKS
from robocall.telephony.signature import is_valid_signature, public_url_for


async def signed_form(request: Request) -> dict[str, str]:
    """The webhook's form fields, after checking the signature against the public URL.

    The URL is rebuilt from ROBOCALL_PUBLIC_URL, not from the address this process sees
    behind a proxy, because that is the URL the provider signed.
    """
    settings = get_settings()
    params = await _form_fields(request)
    scope = request.scope
    path = scope.get("raw_path") or scope["path"].encode()  # as the provider requested it
    query = scope.get("query_string", b"")
    url = public_url_for(settings.public_url, path.decode("latin-1"), query.decode("latin-1"))
    signature = request.headers.get("X-Twilio-Signature")
    token = settings.twilio_auth_token.get_secret_value()
    if not is_valid_signature(token, url, params, signature):
        raise HTTPException(status_code=403, detail="invalid or missing X-Twilio-Signature")
    return params


Webhook = Callable[[Request, dict[str, str]], Awaitable[Response]]
WebhookRoutes = dict[str, ASGIApp]  # the ASGI app of each webhook, by its path under WEBHOOKS


def provider_webhook(routes: WebhookRoutes, path: str) -> Callable[[Webhook], Webhook]:
    """Add `handler(request, form)` to `routes` as the POST webhook `path` (under
    /webhooks/twilio), called only with a correctly signed form.

    ASGI apps answered by `webhooks_app` before the application's middleware, not FastAPI
    endpoints: the provider fixes what it posts, so there is nothing for FastAPI
    to validate or document, and its per-request machinery would cost a webhook as much as
    reading and writing the call (webhooks are most of the requests while a campaign runs).
    Query parameters are read with `query_int`.
    """

    def register(handler: Webhook) -> Webhook:
        assert path not in routes, f"two webhooks for {path}"
        routes[path] = _SignedWebhook(handler)
        return handler

    return register


class _SignedWebhook:
    """The ASGI app of one webhook: check the signature, run the handler, send its answer.

    Errors it raises are answered by `webhooks_app` (JSON, as the application's own).
    """

    def __init__(self, handler: Webhook) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        response = await self.handler(request, await signed_form(request))
        await response(scope, receive, send)


def webhooks_app(*routes: WebhookRoutes) -> ASGIApp:
    """The ASGI app answering the provider webhooks under /webhooks/twilio (`routes`).

    The application hands it webhook requests before its own middleware (sessions, its
    telemetry and body limit, the routing of every page and API): webhooks use none of it,
    and are most of the requests while a campaign runs. Errors are answered as the
    application answers them for /webhooks/: JSON for an HTTPException (404 and 405 too),
    a bare 500 otherwise; a body is limited to MAX_BODY here.
    """
    handlers = {StarletteHTTPException: _json_error}
    return ServerErrorMiddleware(ExceptionMiddleware(_WebhookRouter(routes), handlers=handlers))


class _WebhookRouter:
    """Each webhook by its exact path (one dictionary lookup, no patterns to try)."""

    def __init__(self, routes: tuple[WebhookRoutes, ...]) -> None:
        self.by_path: dict[str, ASGIApp] = {}
        for group in routes:
            for path, webhook in group.items():
                assert WEBHOOKS + path not in self.by_path, f"two webhooks for {path}"
                self.by_path[WEBHOOKS + path] = webhook

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        webhook = self.by_path.get(route_path(scope))
        if webhook is None:
            raise StarletteHTTPException(status_code=404)
        if scope["method"] != "POST":
            raise StarletteHTTPException(status_code=405, headers={"Allow": "POST"})
        await webhook(scope, receive, send)


def route_path(scope: Scope) -> str:
    """The request's path within the application (without the root path it is served at)."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def is_webhook(scope: Scope) -> bool:
    """Whether the request is for a provider webhook (answered by `webhooks_app`)."""
    return scope["type"] == "http" and route_path(scope).startswith(_UNDER_WEBHOOKS)


_UNDER_WEBHOOKS = WEBHOOKS + "/"


async def _json_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # FastAPI's too, and the router's 404/405
    return await http_exception_handler(request, exc)


def query_int(request: Request, name: str) -> int | None:
    """A whole-number query parameter of a webhook's URL (None when absent), or 422."""
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        detail = f"query parameter {name} must be a whole number, not {value!r}"
        raise HTTPException(status_code=422, detail=detail) from None


# More fields than any provider callback carries: a post beyond it is not from the provider.
MAX_FIELDS = 200


async def _form_fields(request: Request) -> dict[str, str]:
    """The posted fields. Providers post URL-encoded forms, parsed here directly (a step
    webhook runs for every key a caller presses); any other body is refused (415)."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
        detail = "a webhook takes an application/x-www-form-urlencoded form"
        raise HTTPException(status_code=415, detail=detail)
    try:
        body = (await _body(request.receive)).decode()
        return dict(parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FIELDS))
    except (UnicodeDecodeError, ValueError):
        detail = "the form is not valid UTF-8 URL-encoded data"
        raise HTTPException(status_code=400, detail=detail) from None


# A provider's post is a few kilobytes at most (a long speech transcript included).
MAX_BODY = 64 * 1024


async def _body(receive: Receive) -> bytes:
    """The request body, read from the server's messages (a provider's post is one); 413
    beyond MAX_BODY."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise HTTPException(status_code=413, detail=f"the body is over {MAX_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
