"""The migrations, run on an empty database, give exactly the models' schema."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from smscrm.db import Base
from smscrm.migrate import alembic_config


def test_upgraded_database_matches_the_models(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_history_has_one_head_and_the_database_is_at_it(engine, database_url):
    script = ScriptDirectory.from_config(alembic_config(database_url))
    assert len(script.get_heads()) == 1
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_heads() == tuple(script.get_heads())


def test_indexes_of_mostly_empty_columns_leave_out_the_rows_without_a_value(engine):
    """Migration 0008: partial indexes, so a text not sent yet or an entry without a redemption costs no entry."""
    inspector = inspect(engine)
    partial = {
        (table, index["name"]): (index["unique"], str(index["dialect_options"].get(f"{engine.dialect.name}_where")))
        for table in ("outbound_messages", "points_entries")
        for index in inspector.get_indexes(table)
        if index["dialect_options"].get(f"{engine.dialect.name}_where") is not None
    }
    assert {key: unique for key, (unique, _where) in partial.items()} == {
        ("outbound_messages", "ix_outbound_messages_campaign_status"): False,
        ("outbound_messages", "uq_outbound_messages_provider_sid"): True,
        ("points_entries", "ix_points_entries_purchase_id"): False,
        ("points_entries", "ix_points_entries_redemption_id"): False,
    }
    assert all("IS NOT NULL" in where for _unique, where in partial.values())
