"""The application factory."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from robocall.campaigns.routes import router as campaigns_router
from robocall.config import get_settings, require_secrets
from robocall.contacts.routes import router as contacts_router
from robocall.hotline.routes import router as reports_router
from robocall.http.auth import LoginRequired
from robocall.importers.routes import router as imports_router
from robocall.ivr.library import get_library
from robocall.kit.heap import settle_heap
from robocall.telephony.service import WEBHOOKS
from robocall.users.service import dummy_password_hash
from robocall.web import auth_routes
from robocall.web.pages import (
    account,
    admin,
    campaigns,
    contacts,
    dashboard,
    exports,
    optouts,
    reports,
    upload,
)
from robocall.web.pages.common import error_page
from robocall.web.security import ClientAddress, RequestLimits, SecurityHeaders, docs_router
from robocall.web.webhooks import webhooks_app
from robocall.workers.health import check_health

SESSION_HOURS = 12  # a working day; then staff sign in again


def create_app() -> FastAPI:
    """Build the robocall web application: the provider webhooks (`webhooks_app`) and the
    site (`create_site`), each mounted on an application that adds the security headers and
    the client's address to both."""
    settings = get_settings()
    # Here too, not only in `robocall serve`: a uvicorn started on this factory directly must
    # not sign cookies or check webhooks with a public default either.
    require_secrets(settings)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    # Outermost last-added first: SecurityHeaders, then ClientAddress.
    app.add_middleware(ClientAddress, trusted=settings.trusted_proxy_networks)
    app.add_middleware(SecurityHeaders, https=settings.public_url.startswith("https://"))
    app.mount(WEBHOOKS, webhooks_app())
    app.mount("/", create_site())
    return app


def create_site() -> FastAPI:
    """The web UI and the JSON API, behind the session cookie and the body limits."""
    settings = get_settings()
    # The API's docs are served by `docs_router`, to signed-in users only.
    app = FastAPI(
        title="robocall", version="0.1.0", docs_url=None, redoc_url=None, openapi_url=None
    )
    # Middleware runs outermost last-added first: the session, then RequestLimits (which
    # needs the session to know who sends an upload).
    app.add_middleware(RequestLimits)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key.get_secret_value(),
        session_cookie="robocall_session",
        max_age=SESSION_HOURS * 3600,
        same_site="lax",
        https_only=settings.public_url.startswith("https://"),
    )
    # Made now, not at the first sign-in for an unknown name, which would take twice as long
    # as the others (see `robocall.users.login`).
    dummy_password_hash()
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")
    app.include_router(auth_routes.router)
    app.include_router(docs_router)

    @app.exception_handler(LoginRequired)
    def _to_login(request: Request, _exc: LoginRequired) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        # Scripts get JSON; people get a page in their language.
        path = request.url.path
        if path.startswith(("/api/", "/webhooks/", "/simulator/")) or exc.status_code == 401:
            return await http_exception_handler(request, exc)
        return error_page(request, exc.status_code, str(exc.detail))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        ok, checks = check_health()
        return JSONResponse(
            {"status": "ok" if ok else "error", "process": "serve", **checks},
            status_code=200 if ok else 503,
        )

    app.include_router(imports_router)
    app.include_router(contacts_router)
    app.include_router(reports_router)
    pages = (dashboard, upload, campaigns, contacts, reports, exports, optouts, admin, account)
    for page in pages:
        app.include_router(page.router)
    app.include_router(exports.api_router)
    app.include_router(campaigns_router)
    return app


def ready_to_serve() -> None:
    """Before the first request: load the flows (the first call does not wait for them, and
    the collector need not look at them again), then settle the heap (`settle_heap`)."""
    get_library()
    settle_heap(collect_less_often=True)
