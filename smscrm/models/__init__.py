"""The database models, one module per domain; import them from here."""
from smscrm.models.apikey import ApiKey
from smscrm.models.campaign import (
    Campaign,
    CampaignHoldout,
    CampaignSettings,
    CampaignStatus,
    Segment,
)
from smscrm.models.care import CareKind, CareRule, CareTouch, ClassMark, VisitSurvey
from smscrm.models.consent import ConsentAction, ConsentChannel, ConsentEvent
from smscrm.models.dashboard import DashboardFigures
from smscrm.models.delivery import EarlyStatusReport, SendRateBucket
from smscrm.models.inbox import InboxItem, InboxKind, InboxReply
from smscrm.models.member import Member, MemberInterest
from smscrm.models.member_import import ImportStatus, MemberImport, MemberImportRow, MemberImportTag, RowRejection
from smscrm.models.merchant import Language, Merchant, Role, SenderNumber, StaffUser
from smscrm.models.message import (
    DEDUPE_CONFLICT,
    Category,
    InboundMessage,
    Intent,
    OutboundMessage,
    Status,
)
from smscrm.models.points import (
    EntryKind,
    LoyaltySettings,
    PointsEntry,
    Purchase,
    Stage,
    ValueClass,
)
from smscrm.models.referral import Referral, ReferralChannel, ReferralStatus
from smscrm.models.reward import Redemption, RedemptionChannel, RedemptionStatus, Reward

__all__ = [
    "DEDUPE_CONFLICT",
    "ApiKey",
    "Campaign",
    "CampaignHoldout",
    "CampaignSettings",
    "CampaignStatus",
    "CareKind",
    "CareRule",
    "CareTouch",
    "Category",
    "ClassMark",
    "ConsentAction",
    "ConsentChannel",
    "ConsentEvent",
    "DashboardFigures",
    "EarlyStatusReport",
    "EntryKind",
    "ImportStatus",
    "InboundMessage",
    "InboxItem",
    "InboxKind",
    "InboxReply",
    "Intent",
    "Language",
    "LoyaltySettings",
    "Member",
    "MemberImport",
    "MemberImportRow",
    "MemberImportTag",
    "MemberInterest",
    "Merchant",
    "OutboundMessage",
    "PointsEntry",
    "Purchase",
    "Redemption",
    "RedemptionChannel",
    "RedemptionStatus",
    "Referral",
    "ReferralChannel",
    "ReferralStatus",
    "Reward",
    "Role",
    "RowRejection",
    "Segment",
    "SendRateBucket",
    "SenderNumber",
    "StaffUser",
    "Stage",
    "Status",
    "ValueClass",
    "VisitSurvey",
]
