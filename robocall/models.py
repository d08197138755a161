"""Every model, imported so that the metadata is complete (Alembic, tests)."""

from robocall.contacts.models import Contact, OptOut
from robocall.importers.models import ImportBatch
from robocall.units.models import Unit

__all__ = ["Contact", "ImportBatch", "OptOut", "Unit"]
