"""API tokens expire; wrong passwords are counted in Redis, so accounts no longer lock

Revision ID: 9688a3302579
Revises: c3d9e8f1a2b4
Create Date: 2026-12-10 09:00:00+00:00
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import robocall.db

revision: str = "9688a3302579"
down_revision: str | None = "c3d9e8f1a2b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tokens made before tokens expired get the default lifetime, counted from when they were made.
TOKEN_DAYS = 90


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(
            sa.Column("expires_at", robocall.db.UTCDateTime(timezone=True), nullable=True)
        )
    tokens = sa.table(
        "api_tokens",
        sa.column("id", sa.Integer()),
        sa.column("created_at", robocall.db.UTCDateTime(timezone=True)),
        sa.column("expires_at", robocall.db.UTCDateTime(timezone=True)),
    )
    connection = op.get_bind()
    # In Python, not SQL: date arithmetic is spelled differently by SQLite and PostgreSQL.
    for token_id, created_at in connection.execute(sa.select(tokens.c.id, tokens.c.created_at)):
        connection.execute(
            tokens.update()
            .where(tokens.c.id == token_id)
            .values(expires_at=created_at + dt.timedelta(days=TOKEN_DAYS))
        )
    # Rebuilt on SQLite (nothing refers to api_tokens, so nothing else is touched).
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column(
            "expires_at", existing_type=robocall.db.UTCDateTime(timezone=True), nullable=False
        )
    # Not in batch mode: rebuilding `users` on SQLite would drop the table, and with foreign
    # keys on that deletes every API token (ON DELETE CASCADE) and unlinks every audit entry.
    # SQLite has dropped a plain column in place since 3.35.
    op.drop_column("users", "failed_logins")
    op.drop_column("users", "locked_until")


def downgrade() -> None:
    # Added in place, for the same reason; the default stays (removing it would rebuild
    # `users` on SQLite).
    op.add_column(
        "users", sa.Column("locked_until", robocall.db.UTCDateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "users", sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
    )
    op.drop_column("api_tokens", "expires_at")
