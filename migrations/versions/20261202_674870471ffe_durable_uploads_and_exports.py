"""Uploads and prepared exports recorded in the database, so that no job is lost with Redis

Revision ID: 674870471ffe
Revises: 9688a3302579
Create Date: 2026-12-02 20:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import robocall.db

revision: str = "674870471ffe"
down_revision: str | None = "9688a3302579"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=True),
        sa.Column("classification", sa.String(length=16), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "previewed",
                "queued",
                "running",
                "done",
                "refused",
                name="uploadstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("created", sa.Integer(), nullable=True),
        sa.Column("updated", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", robocall.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("queued_at", robocall.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("taken_at", robocall.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", robocall.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_uploads_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
        sa.UniqueConstraint("token", name=op.f("uq_uploads_token")),
    )
    op.create_index(op.f("ix_uploads_user_id"), "uploads", ["user_id"])
    op.create_index(op.f("ix_uploads_state"), "uploads", ["state"])
    op.create_table(
        "prepared_exports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("fmt", sa.String(length=8), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                name="exportstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", robocall.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("queued_at", robocall.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("taken_at", robocall.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_prepared_exports_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prepared_exports")),
        sa.UniqueConstraint("token", name=op.f("uq_prepared_exports_token")),
    )
    op.create_index(op.f("ix_prepared_exports_user_id"), "prepared_exports", ["user_id"])
    op.create_index(op.f("ix_prepared_exports_state"), "prepared_exports", ["state"])


def downgrade() -> None:
    op.drop_table("prepared_exports")
    op.drop_table("uploads")
