"""Every model, imported so that the metadata is complete (Alembic, tests)."""

from robocall.sms.models import Message
from robocall.telephony.models import Call, CallEvent
from robocall.units.models import Unit

__all__ = ["Call", "CallEvent", "Message", "Unit"]
