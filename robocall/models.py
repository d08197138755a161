"""Every model, imported so that the metadata is complete (Alembic, tests)."""

from robocall.units.models import Unit

__all__ = ["Unit"]
