"""The application factory."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from robocall.campaigns.routes import router as campaigns_router
from robocall.campaigns.wiring import wire_once
from robocall.config import get_settings
from robocall.contacts.routes import router as contacts_router
from robocall.importers.routes import router as imports_router
from robocall.ivr import wiring as ivr_wiring
from robocall.ivr.routes import router as ivr_router
from robocall.telephony import routes as telephony_routes
from robocall.web import auth_routes
from robocall.web.auth import LoginRequired
from robocall.workers.health import check_health

SESSION_HOURS = 12  # a working day; then staff sign in again


def create_app() -> FastAPI:
    """Build the robocall web application."""
    settings = get_settings()
    ivr_wiring.install()
    app = FastAPI(title="robocall", version="0.1.0")
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key.get_secret_value(),
        session_cookie="robocall_session",
        max_age=SESSION_HOURS * 3600,
        same_site="lax",
        https_only=settings.public_url.startswith("https://"),
    )
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")
    app.include_router(auth_routes.router)

    @app.exception_handler(LoginRequired)
    def _to_login(request: Request, _exc: LoginRequired) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        ok, checks = check_health()
        return JSONResponse(
            {"status": "ok" if ok else "error", "process": "serve", **checks},
            status_code=200 if ok else 503,
        )

    app.include_router(imports_router)
    app.include_router(contacts_router)
    app.include_router(telephony_routes.router)
    app.include_router(ivr_router)
    app.include_router(campaigns_router)
    wire_once()
    return app
