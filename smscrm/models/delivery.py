"""The delivery worker's shared state: send-rate buckets and status reports that came too early."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from smscrm.db.types import Base


class SendRateBucket(Base):
    """A token bucket shared by every worker: `key` names what is limited (the account, one sender
    number), `tokens` is what was left at `refilled_at`. Rates come from the settings."""

    __tablename__ = "send_rate_buckets"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    refilled_at: Mapped[datetime]


class EarlyStatusReport(Base):
    """A provider status report for a sid no outbox row holds yet (the callback beat the worker's
    write); applied when the sid is stored, dropped after a week if it never is."""

    __tablename__ = "early_status_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_sid: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[int | None]
    reported_at: Mapped[datetime]
