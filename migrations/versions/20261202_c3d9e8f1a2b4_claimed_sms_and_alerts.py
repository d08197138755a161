"""SMS and duty alerts claimed by the worker that sends them, and retried when due

Revision ID: c3d9e8f1a2b4
Revises: b7e2c1d4a9f0
Create Date: 2026-12-02 19:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import robocall.db

revision: str = "c3d9e8f1a2b4"
down_revision: str | None = "b7e2c1d4a9f0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("report_notifications") as batch:
        batch.add_column(
            sa.Column("taken_at", robocall.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("next_try_at", robocall.db.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("campaign_targets") as batch:
        batch.add_column(
            sa.Column("sms_claimed_at", robocall.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("campaign_targets") as batch:
        batch.drop_column("sms_claimed_at")
    with op.batch_alter_table("report_notifications") as batch:
        batch.drop_column("next_try_at")
        batch.drop_column("taken_at")
