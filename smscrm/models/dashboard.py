"""The dashboard's figures kept ahead of time, one row per merchant (smscrm.dashboard_kept)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from smscrm.db.types import Base


class DashboardFigures(Base):
    """`figures` is `smscrm.dashboard.Figures` as JSON, counted at `computed_at`; Home last read them at `read_at`."""

    __tablename__ = "dashboard_figures"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    computed_at: Mapped[datetime]
    read_at: Mapped[datetime]
    figures: Mapped[dict] = mapped_column(JSON)
