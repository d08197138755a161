"""Every model, imported so that the metadata is complete (Alembic, tests)."""

from robocall.hotline.models import HotlineReport, ReportNotification
from robocall.ivr.models import CallAnswer, CallSession
from robocall.units.models import Unit

__all__ = ["CallAnswer", "CallSession", "HotlineReport", "ReportNotification", "Unit"]
