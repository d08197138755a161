"""The application factory."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from robocall.ivr.routes import router as ivr_router
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

    app.include_router(ivr_router)
    return app
