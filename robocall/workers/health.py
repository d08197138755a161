"""Health checks shared by the web app and the worker and scheduler processes."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from robocall.db import ping as ping_database
from robocall.workers.connection import get_redis


def check_health() -> tuple[bool, dict[str, str]]:
    """Whether the database and Redis answer, with a word on each."""
    checks: dict[str, str] = {}
    try:
        ping_database()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    return all(v == "ok" for v in checks.values()), checks


class _HealthHandler(BaseHTTPRequestHandler):
    process_name = "robocall"

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/healthz":
            self.send_error(404)
            return
        ok, checks = check_health()
        body = json.dumps(
            {"status": "ok" if ok else "error", "process": self.process_name, **checks}
        )
        self.send_response(200 if ok else 503)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        return


def start_health_server(port: int, process_name: str) -> ThreadingHTTPServer:
    """Answer GET /healthz on 127.0.0.1:port from a background thread."""
    handler = type("HealthHandler", (_HealthHandler,), {"process_name": process_name})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="healthz", daemon=True).start()
    return server
