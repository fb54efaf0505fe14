"""Consent as evidence: every opt-in and opt-out, append-only."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from smscrm.db.types import Base


class ConsentAction(StrEnum):
    OPT_IN = "opt_in"
    OPT_OUT = "opt_out"


class ConsentChannel(StrEnum):
    SMS = "sms"
    CARRIER = "carrier"  # the provider told us the number is unreachable for us (Twilio 21610)
    WEB = "web"
    API = "api"
    IMPORT = "import"  # a member file whose owner declared the members' consent (`import_id`: the statement)
    IN_PERSON = "in_person"  # staff recorded what the shopper said at the counter


class ConsentEvent(Base):
    """One opt-in or opt-out for a phone at a merchant. Never updated, never deleted."""

    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_merchant_phone", "merchant_id", "phone", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    phone: Mapped[str] = mapped_column(String(20))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    action: Mapped[str] = mapped_column(String(10))
    keyword: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(10))
    source_sid: Mapped[str | None] = mapped_column(String(64))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("member_imports.id"))
    created_at: Mapped[datetime]
