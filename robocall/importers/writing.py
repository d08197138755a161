"""Writing many contacts fast: COPY on PostgreSQL, else one INSERT run with executemany.

The values are converted with each column's own bind processor (as SQLAlchemy would), but
once per value instead of through a per-row parameter dictionary; an empty JSON value, the
most common one, is converted once for all rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import repeat
from typing import Any, cast

from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session

from robocall.contacts.models import Contact

CONTACTS = cast(Table, Contact.__table__)
CHUNK = 5000  # rows per executemany


def insert_contacts(
    *, db_session: Session, people: list[dict[str, Any]], constants: dict[str, Any]
) -> int:
    """Insert every person (dicts keyed by column); `constants` are the same for all rows."""
    connection = db_session.connection()
    dialect = connection.dialect
    columns = [c for c in CONTACTS.columns if c.key != "id"]
    names = [c.key for c in columns]
    processors: list[Any] = []
    empties: list[dict[Any, Any]] = []
    fixed: dict[int, Any] = {}
    for index, column in enumerate(columns):
        processor = column.type.dialect_impl(dialect).bind_processor(dialect)
        processors.append(processor)
        empty: dict[Any, Any] = {}
        if isinstance(column.type, JSON) and processor is not None:
            empty = {"[]": processor([]), "{}": processor({})}
        empties.append(empty)
        if column.key in constants:
            value = constants[column.key]
            fixed[index] = processor(value) if processor and value is not None else value
    placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
    quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in names)
    sql = (
        f"INSERT INTO {CONTACTS.name} ({quoted}) "  # noqa: S608 - column names from the model
        f"VALUES ({', '.join([placeholder] * len(names))})"
    )
    copy_sql = (
        f"COPY {CONTACTS.name} ({quoted}) FROM STDIN"
        if dialect.name == "postgresql" and dialect.driver == "psycopg"
        else None
    )
    plan = list(zip(range(len(names)), names, processors, empties, strict=True))
    written = 0
    # Column by column: one comprehension per column is far cheaper than a branch per cell.
    for start in range(0, len(people), CHUNK):
        chunk = people[start : start + CHUNK]
        columns_values: list[Iterable[Any]] = []
        for index, name, processor, empty in plan:
            if index in fixed:
                columns_values.append(repeat(fixed[index], len(chunk)))
                continue
            values = [person.get(name) for person in chunk]
            if empty:
                values = [
                    None
                    if v is None
                    else empty["[]" if isinstance(v, list) else "{}"]
                    if not v
                    else processor(v)
                    for v in values
                ]
            elif processor is not None:
                values = [None if v is None else processor(v) for v in values]
            columns_values.append(values)
        rows = list(zip(*columns_values, strict=False))
        if copy_sql is not None:
            # PostgreSQL: COPY is several times faster than any INSERT for many rows.
            with connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
                with cursor.copy(copy_sql) as copy:
                    for row in rows:
                        copy.write_row(row)
        else:
            connection.exec_driver_sql(sql, rows)
        written += len(rows)
    return written
