"""Bring a database to the newest schema with Alembic (used by the CLI, `make run` and tests)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from smscrm.db.engine import make_engine

ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    """Create the SQLite file's folder if needed, then run every migration not yet applied."""
    if database_url.startswith("sqlite:///") and not database_url.startswith("sqlite:///:memory:"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), "heads")


def statistics_warning(database_url: str) -> str | None:
    """A warning when PostgreSQL will not keep its planner statistics by itself (autovacuum off).

    The busiest queries run as prepared statements planned from those statistics; without them the
    planner may read every member of a merchant to find one phone (bench/webhook saw it slow with
    each round on such a server). None on SQLite, and when autovacuum is on.
    """
    if not database_url.startswith("postgresql"):
        return None
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            autovacuum = connection.execute(text("SHOW autovacuum")).scalar()
    finally:
        engine.dispose()
    if autovacuum == "on":
        return None
    return ("warning: autovacuum is off on this PostgreSQL server, so table statistics go stale as members and "
            "texts accumulate; turn it on, or run ANALYZE regularly (after bulk loads too)")
