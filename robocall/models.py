"""Every model, imported so that the metadata is complete (Alembic, tests)."""

from robocall.campaigns.models import Attempt, Campaign, CampaignRound, Target
from robocall.contacts.models import Contact, OptOut
from robocall.exports.models import PreparedExport
from robocall.hotline.models import HotlineReport, ReportContact, ReportNotification
from robocall.importers.models import ImportBatch, Upload
from robocall.ivr.models import CallAnswer, CallSession
from robocall.telephony.messages import Message
from robocall.telephony.models import Call, CallEvent
from robocall.units.models import Unit
from robocall.users.models import ApiToken, AuditEntry, User

__all__ = [
    "ApiToken",
    "Attempt",
    "Campaign",
    "CampaignRound",
    "Target",
    "AuditEntry",
    "Call",
    "CallAnswer",
    "CallEvent",
    "CallSession",
    "Contact",
    "HotlineReport",
    "ImportBatch",
    "Message",
    "OptOut",
    "PreparedExport",
    "ReportContact",
    "ReportNotification",
    "Unit",
    "Upload",
    "User",
]
