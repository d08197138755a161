"""The language of the web UI: Vietnamese by default, English on request."""

from __future__ import annotations

from fastapi import Request

LANGUAGES = ("vi", "en")


def language(request: Request) -> str:
    """The language chosen with ?lang= (remembered in a cookie), else Vietnamese."""
    chosen = request.query_params.get("lang") or request.cookies.get("lang") or "vi"
    return chosen if chosen in LANGUAGES else "vi"
