"""The migrations, run on an empty database, give exactly the models' schema."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

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
