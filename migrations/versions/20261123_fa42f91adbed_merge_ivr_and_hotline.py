"""merge ivr and hotline

Revision ID: fa42f91adbed
Revises: 0d5879eaca1d, f79bbd5f5acc
Create Date: 2026-11-23 04:31:11.627492+00:00
"""

from collections.abc import Sequence

revision: str = "fa42f91adbed"
down_revision: str | None = ("0d5879eaca1d", "f79bbd5f5acc")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
