"""Every model, imported so that the metadata is complete (Alembic, tests)."""

from robocall.units.models import Unit
from robocall.users.models import ApiToken, AuditEntry, User

__all__ = ["ApiToken", "AuditEntry", "Unit", "User"]
