"""opt-outs scoped to a unit or asked by the resident; every contact a report concerns

Revision ID: b7e2c1d4a9f0
Revises: 486163c5af86
Create Date: 2026-12-02 18:40:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e2c1d4a9f0"
down_revision: str | None = "486163c5af86"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("opt_outs") as batch:
        batch.drop_constraint("uq_opt_outs_phone", type_="unique")
        batch.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
        # Opt-outs made before scoping were all honoured everywhere: keep them so.
        batch.add_column(
            sa.Column("by_resident", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("created_by", sa.String(length=100), nullable=True))
        batch.create_foreign_key(
            "fk_opt_outs_unit_id_units", "units", ["unit_id"], ["id"], ondelete="CASCADE"
        )
    with op.batch_alter_table("opt_outs") as batch:
        batch.alter_column("by_resident", server_default=None)
    # One per number, unit (none: everywhere) and origin; NULL units compare equal here.
    op.create_index(
        "uq_opt_outs_phone_unit_origin",
        "opt_outs",
        ["phone", sa.text("coalesce(unit_id, 0)"), "by_resident"],
        unique=True,
    )
    op.create_table(
        "hotline_report_contacts",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["hotline_reports.id"],
            name=op.f("fk_hotline_report_contacts_report_id_hotline_reports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_hotline_report_contacts_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_hotline_report_contacts_unit_id_units"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("report_id", "contact_id", name=op.f("pk_hotline_report_contacts")),
    )
    op.create_index(
        op.f("ix_hotline_report_contacts_unit_id"), "hotline_report_contacts", ["unit_id"]
    )
    # Reports filed before: their one contact.
    op.execute(
        "INSERT INTO hotline_report_contacts (report_id, contact_id, unit_id) "
        "SELECT r.id, r.contact_id, c.unit_id FROM hotline_reports r "
        "JOIN contacts c ON c.id = r.contact_id"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_hotline_report_contacts_unit_id"), "hotline_report_contacts")
    op.drop_table("hotline_report_contacts")
    op.drop_index("uq_opt_outs_phone_unit_origin", "opt_outs")
    with op.batch_alter_table("opt_outs") as batch:
        batch.drop_constraint("fk_opt_outs_unit_id_units", type_="foreignkey")
        batch.drop_column("created_by")
        batch.drop_column("by_resident")
        batch.drop_column("unit_id")
        batch.create_unique_constraint("uq_opt_outs_phone", ["phone"])
