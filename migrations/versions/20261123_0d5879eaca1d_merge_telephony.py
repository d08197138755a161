"""merge telephony

Revision ID: 0d5879eaca1d
Revises: 88af5ed11051, d0056310108b
Create Date: 2026-11-23 04:28:48.530171+00:00
"""

from collections.abc import Sequence

revision: str = "0d5879eaca1d"
down_revision: str | None = ("88af5ed11051", "d0056310108b")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
