"""Limit a query to the units a user may see."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, false
from sqlalchemy.orm import InstrumentedAttribute

from robocall.users.service import Scope

S = TypeVar("S", bound="Select[*tuple[Any, ...]]")


def within(query: S, column: InstrumentedAttribute[Any], scope: Scope) -> S:
    """`query` limited to rows whose unit column is inside `scope` (all rows for admins)."""
    if scope.unit_ids is None:
        return query
    if not scope.unit_ids:
        return query.where(false())
    return query.where(column.in_(sorted(scope.unit_ids)))
