"""Request dependencies: one request = one transaction, committed at the edge."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy.orm import Session

from robocall.db import session_scope


def db_session() -> Iterator[Session]:
    """The request's unit of work: committed when the endpoint returns, else rolled back."""
    with session_scope() as session:
        yield session
