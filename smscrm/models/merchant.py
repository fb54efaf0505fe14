"""Merchants, the numbers they text from, and the people who sign in for them."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from smscrm.db.types import Base
from smscrm.models.campaign import CampaignSettings
from smscrm.models.points import LoyaltySettings


class Language(StrEnum):
    EN = "en"
    ZH = "zh"


class Role(StrEnum):
    OWNER = "owner"
    STAFF = "staff"


class Merchant(LoyaltySettings, CampaignSettings, Base):
    """A shop using smscrm. `texts` holds the shopper texts it has customised: {key: {lang: text}}.

    Its earn rules and segmentation thresholds are the `LoyaltySettings` columns, its sending window,
    weekly cap and SMS price the `CampaignSettings` columns.
    """

    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    name_zh: Mapped[str | None] = mapped_column(String(80))  # the name in Chinese texts; `name` when empty
    signature: Mapped[str] = mapped_column(String(40))
    default_language: Mapped[str] = mapped_column(String(2), default=Language.EN)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    country: Mapped[str] = mapped_column(String(2), default="US")
    texts: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]

    numbers: Mapped[list["SenderNumber"]] = relationship(back_populates="merchant", order_by="SenderNumber.id")

    @property
    def primary_number(self) -> str:
        return self.numbers[0].number


class SenderNumber(Base):
    """A phone number (E.164) a merchant sends from and receives on; unique across merchants."""

    __tablename__ = "sender_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)

    merchant: Mapped[Merchant] = relationship(back_populates="numbers")


class StaffUser(Base):
    """Someone who signs in to the merchant web app; the password is an argon2 hash.

    A signed-in session carries `session_epoch`: signing out and a new password raise it, which ends every
    session opened before. A deactivated user (`deactivated_at`) can no longer sign in. `language` is the language
    of the pages they chose (None: their merchant's).
    """

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10), default=Role.OWNER)
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    language: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[datetime]
    deactivated_at: Mapped[datetime | None]

    merchant: Mapped[Merchant] = relationship()
