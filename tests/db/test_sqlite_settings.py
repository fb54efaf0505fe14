"""Every SQLite connection smscrm opens is set up alike (`smscrm.db.engine.make_engine`), whatever process opens it."""
from __future__ import annotations

from smscrm.db.engine import make_engine

SETTINGS = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")


def test_every_connection_gets_wal_its_sync_level_foreign_keys_and_the_busy_timeout(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    with engine.connect() as first, engine.connect() as second:  # two connections of the pool, both set up
        for connection in (first, second):
            settings = {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar() for name in SETTINGS}
            assert settings == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 30000}
    engine.dispose()
