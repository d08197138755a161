"""Resident opt-outs record their reason as a code that the pages label in Vietnamese.

Revision ID: 5e1f0a7c3b92
Revises: 674870471ffe
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1f0a7c3b92"
down_revision: str | None = "674870471ffe"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CODES = {"asked during a call": "during_call", "SMS keyword": "sms_keyword"}


def upgrade() -> None:
    opt_outs = sa.table(
        "opt_outs", sa.column("reason", sa.String), sa.column("by_resident", sa.Boolean)
    )
    for text, code in CODES.items():
        op.execute(
            opt_outs.update()
            .where(opt_outs.c.reason == text, opt_outs.c.by_resident.is_(True))
            .values(reason=code)
        )


def downgrade() -> None:
    opt_outs = sa.table(
        "opt_outs", sa.column("reason", sa.String), sa.column("by_resident", sa.Boolean)
    )
    for text, code in CODES.items():
        op.execute(
            opt_outs.update()
            .where(opt_outs.c.reason == code, opt_outs.c.by_resident.is_(True))
            .values(reason=text)
        )
