"""The database models, one module per domain; import them from here."""
from smscrm.models.apikey import ApiKey
from smscrm.models.consent import ConsentAction, ConsentChannel, ConsentEvent
from smscrm.models.member import Member, MemberInterest
from smscrm.models.merchant import Language, Merchant, Role, SenderNumber, StaffUser
from smscrm.models.message import Category, InboundMessage, Intent, OutboundMessage, Status

__all__ = [
    "ApiKey",
    "Category",
    "ConsentAction",
    "ConsentChannel",
    "ConsentEvent",
    "InboundMessage",
    "Intent",
    "Language",
    "Member",
    "MemberInterest",
    "Merchant",
    "OutboundMessage",
    "Role",
    "SenderNumber",
    "StaffUser",
    "Status",
]
