"""Every model, imported so that the metadata is complete (Alembic, tests)."""

from robocall.contacts.models import Contact, OptOut
from robocall.importers.models import ImportBatch
from robocall.units.models import Unit
from robocall.users.models import ApiToken, AuditEntry, User

__all__ = ["ApiToken", "AuditEntry", "Contact", "ImportBatch", "OptOut", "Unit", "User"]
