"""The application factory."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from robocall.telephony import routes as telephony_routes
from robocall.telephony import voice as telephony_voice
from robocall.workers.health import check_health


def create_app() -> FastAPI:
    """Build the robocall web application."""
    app = FastAPI(title="robocall", version="0.1.0")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        ok, checks = check_health()
        return JSONResponse(
            {"status": "ok" if ok else "error", "process": "serve", **checks},
            status_code=200 if ok else 503,
        )

    app.include_router(telephony_routes.router)
    app.include_router(telephony_voice.router)
    return app
