"""The migrations, run on an empty database, give exactly the models' schema."""
from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, exc, inspect, make_url, text

from smscrm.db.indexes import POSTGRESQL_ONLY
from smscrm.db.migrations import alembic_config
from smscrm.db.types import Base
from smscrm.models import Member
from smscrm.sending.parts import count


@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")  # SQLite's
def test_upgraded_database_matches_the_models(engine):
    def is_on_this_database(item, name, kind, is_reflected, compared_to) -> bool:
        return not (kind == "index" and name in POSTGRESQL_ONLY and engine.dialect.name != "postgresql")

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                               "include_object": is_on_this_database})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_history_has_one_head_and_the_database_is_at_it(engine, database_url):
    script = ScriptDirectory.from_config(alembic_config(database_url))
    assert len(script.get_heads()) == 1
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_heads() == tuple(script.get_heads())


def _partial_indexes(engine, *tables) -> dict[tuple[str, str], tuple[bool, str]]:
    """(table, index name) -> (unique, the condition of the rows indexed, as the database gives it back)."""
    inspector = inspect(engine)
    return {
        (table, index["name"]): (bool(index["unique"]), str(index["dialect_options"][f"{engine.dialect.name}_where"]))
        for table in tables
        for index in inspector.get_indexes(table)
        if index["dialect_options"].get(f"{engine.dialect.name}_where") is not None
    }


def test_indexes_of_mostly_empty_columns_leave_out_the_rows_without_a_value(engine):
    """Migrations 0008 and 0009: partial indexes, so a text not sent yet, a reply without a dedupe key, a member
    without a birthday or an entry without a redemption costs no entry."""
    partial = _partial_indexes(engine, "outbound_messages", "points_entries", "members")
    where_set = {key: unique for key, (unique, where) in partial.items() if "IS NOT NULL" in where}
    assert where_set == {
        ("outbound_messages", "ix_outbound_messages_campaign_status"): False,
        ("outbound_messages", "uq_outbound_messages_provider_sid"): True,
        ("outbound_messages", "uq_outbound_messages_merchant_id_dedupe_key"): True,
        ("points_entries", "ix_points_entries_purchase_id"): False,
        ("points_entries", "ix_points_entries_redemption_id"): False,
        ("members", "ix_members_merchant_birthday"): False,
    }


def test_texts_answered_at_once_write_no_entry_in_the_queue_member_and_inbox_indexes(engine):
    """Migration 0010: the outbox's queue index holds the queued and sending rows, its member index no replies,
    and the inbox index only the inbox's texts; two indexes by member id that nothing read are gone."""
    partial = _partial_indexes(engine, "outbound_messages", "inbound_messages")
    conditions = {
        ("outbound_messages", "ix_outbound_messages_due_category"): ("'queued'", "'sending'"),
        ("outbound_messages", "ix_outbound_messages_member_created"): ("'reply'",),
        ("inbound_messages", "ix_inbound_messages_merchant_intent"): ("'feedback'", "'rating'"),
    }
    for key, values in conditions.items():
        unique, where = partial[key]
        assert not unique and all(value in where for value in values), (key, where)
    inspector = inspect(engine)
    assert "ix_inbound_messages_member_id" not in {index["name"] for index in inspector.get_indexes("inbound_messages")}
    assert "ix_consent_events_member_id" not in {index["name"] for index in inspector.get_indexes("consent_events")}


def test_the_outbox_keeps_one_index_for_its_due_rows(engine):
    """Migration 0009: the claim index (status, category, send_after) serves every look-up by status."""
    names = {index["name"] for index in inspect(engine).get_indexes("outbound_messages")}
    assert "ix_outbound_messages_due_category" in names
    assert "ix_outbound_messages_due" not in names


def database_at(url: str, revision: str, merchant_id: int):
    """The database at `url` migrated to `revision`, holding a merchant row as every schema since the first holds
    it: the start of the migrations' data tests (the caller disposes of it)."""
    command.upgrade(alembic_config(url), revision)
    database = create_engine(url)
    with database.begin() as connection:
        connection.execute(text("INSERT INTO merchants (id, name, signature, default_language, timezone, country,"
                                " texts, created_at) VALUES (:id, 'Tea', 'Tea', 'en', 'UTC', 'US', '{}', '2026-03-10')"),
                           {"id": merchant_id})
    return database


def test_migration_0020_counts_the_parts_of_the_texts_already_written(tmp_path):
    """The outbox's new `parts` column is filled for the rows written before it (then NOT NULL)."""
    url = f"sqlite:///{tmp_path / 'before.db'}"
    bodies = ["Hi", "a" * 200, "【绿叶茶馆】感谢光临！" * 8]
    database = database_at(url, "0015", 1)
    with database.begin() as connection:
        for body in bodies:
            connection.execute(text(
                "INSERT INTO outbound_messages (merchant_id, to_phone, from_phone, body, category, purpose, status,"
                " send_after, attempts, deferrals, created_at) VALUES (1, '+1', '+2', :body, 'reply', 'test',"
                " 'replied', '2026-03-10', 0, 0, '2026-03-10')"), {"body": body})
    command.upgrade(alembic_config(url), "head")
    with database.connect() as connection:
        stored = connection.execute(text("SELECT parts FROM outbound_messages ORDER BY id")).scalars().all()
    database.dispose()
    assert stored == [count(body).parts for body in bodies] == [1, 2, 2]


def test_migration_0024_puts_the_interests_already_kept_on_the_members_rows(tmp_path):
    """Each member's topics on their row (none: ""), and each interest knows its member's merchant."""
    url = f"sqlite:///{tmp_path / 'before.db'}"
    database = database_at(url, "0026", 7)
    with database.begin() as connection:
        for id_ in (1, 2, 3):
            connection.execute(text("INSERT INTO members (id, merchant_id, phone, language, is_opted_out, points_balance,"
                                    " created_at) VALUES (:id, 7, :phone, 'en', 0, 0, '2026-03-10')"),
                               {"id": id_, "phone": f"+1415555010{id_}"})
        for member_id, topic in ((1, "green tea"), (1, "100% matcha"), (3, "绿茶")):
            connection.execute(text("INSERT INTO member_interests (member_id, topic, created_at)"
                                    " VALUES (:member_id, :topic, '2026-03-10')"), {"member_id": member_id, "topic": topic})
    command.upgrade(alembic_config(url), "head")
    with database.connect() as connection:
        on_rows = dict(connection.execute(text("SELECT id, interest_topics FROM members")).all())
        merchants = connection.execute(text("SELECT DISTINCT merchant_id FROM member_interests")).scalars().all()
    database.dispose()
    assert {id_: set(topics.split("\n")) - {""} for id_, topics in on_rows.items()} == {
        1: {"green tea", "100% matcha"}, 2: set(), 3: {"绿茶"}}
    assert on_rows[2] == "" and on_rows[3] == "\n绿茶\n"
    assert merchants == [7]


def test_the_generated_columns_are_the_models(engine):
    """Alembic does not compare a generated column's expression: the one the migrations gave the database is the
    model's, as the database gives it back (migration 0027: members.at_risk_from)."""
    column = Member.__table__.c.at_risk_from
    reflected = {each["name"]: each for each in inspect(engine).get_columns("members")}["at_risk_from"]
    model = column.computed.sqltext.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    assert reflected["computed"]["sqltext"] == str(model)
    assert reflected["computed"].get("persisted", False) == (engine.dialect.name == "postgresql")


def test_migration_0027_puts_when_each_member_is_at_risk_on_their_row(tmp_path):
    """Members kept before it get twice their typical gap after their last visit (none without a gap)."""
    url = f"sqlite:///{tmp_path / 'before.db'}"
    database = database_at(url, "0024", 7)
    with database.begin() as connection:
        for id_, last, gap in ((1, "2026-03-10 15:00:00.000000", 11.5), (2, "2026-03-10 15:00:00.000000", None),
                               (3, None, None)):
            connection.execute(text("INSERT INTO members (id, merchant_id, phone, language, is_opted_out, points_balance,"
                                    " created_at, last_visit_at, typical_visit_gap_days) VALUES (:id, 7, :phone, 'en',"
                                    " 0, 0, '2026-03-10', :last, :gap)"),
                               {"id": id_, "phone": f"+1415555010{id_}", "last": last, "gap": gap})
    command.upgrade(alembic_config(url), "head")
    with database.connect() as connection:
        at_risk_from = dict(connection.execute(text("SELECT id, at_risk_from FROM members")).all())
    database.dispose()
    last = datetime(2026, 3, 10, 15, tzinfo=timezone.utc)
    assert at_risk_from == {1: f"{last + timedelta(days=23):%Y-%m-%d %H:%M:%S.%f}", 2: None, 3: None}


@pytest.mark.postgres_only("SQLite keeps members' columns in the order they were added (migration 0029)")
def test_the_members_columns_are_in_the_models_order(engine):
    """Migration 0029 wrote the table with the columns in the order the model declares them (fixed widths first)."""
    assert [each["name"] for each in inspect(engine).get_columns("members")] == list(Member.__table__.columns.keys())


@pytest.fixture
def scratch_postgres(database_url):
    """An empty PostgreSQL database beside the test database, for migrating data written at an older revision."""
    url = make_url(database_url)
    scratch = url.set(database=f"{url.database}_migrations")
    server = create_engine(url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch.database}"'))
        connection.execute(text(f'CREATE DATABASE "{scratch.database}"'))
    yield scratch.render_as_string(hide_password=False)
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch.database}" WITH (FORCE)'))
    server.dispose()


@pytest.mark.postgres_only("migration 0029 rewrites the members table on PostgreSQL only")
def test_migration_0029_keeps_every_member_and_what_points_at_them(scratch_postgres):
    """Members written before the columns' new order come out the same, their id sequence goes on, and the
    constraints, indexes and other tables' foreign keys are all back."""
    database = database_at(scratch_postgres, "0028", 7)
    member = {"merchant_id": 7, "phone": "+14155550101", "name": "林小姐", "language": "zh",
              "joined_at": "2026-03-01 10:00+00", "is_opted_out": False, "points_balance": 120, "birthday_month": 3,
              "birthday_day": 8, "birth_year": 1990, "created_at": "2026-03-01 10:00+00", "stage": "repeat",
              "value_class": "A", "first_visit_at": "2026-03-01 10:00+00", "last_visit_at": "2026-03-09 10:00+00",
              "visit_count": 4, "total_spend_minor": 12345, "typical_visit_gap_days": 2.5, "referral_code": "LIN7",
              "notes": "oolong, no sugar", "interest_topics": "\noolong\n"}
    names = ", ".join(member)
    with database.begin() as connection:
        connection.execute(text(f"INSERT INTO members (id, {names}) VALUES (41, {', '.join(':' + k for k in member)})"),
                           member)
        connection.execute(text("INSERT INTO members (merchant_id, phone, language, is_opted_out, points_balance,"
                                " created_at) VALUES (7, '+14155550102', 'en', true, 0, '2026-03-02')"))
        connection.execute(text("SELECT setval('members_id_seq', 50)"))
        connection.execute(text("GRANT SELECT ON members TO PUBLIC"))  # as an operator's reporting role might have
        connection.execute(text("INSERT INTO points_entries (merchant_id, member_id, kind, points, balance_after,"
                                " idempotency_key, created_at) VALUES (7, 41, 'earn', 120, 120, 'p1', '2026-03-09')"))
        before = connection.execute(text("SELECT * FROM members ORDER BY id")).mappings().all()
        indexes = connection.execute(text("SELECT indexname, indexdef FROM pg_indexes"
                                          " WHERE tablename = 'members' ORDER BY 1")).all()
        constraints = connection.execute(text("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                                              " FROM pg_constraint WHERE 'members'::regclass IN (conrelid, confrelid)"
                                              " ORDER BY 1, 2")).all()
    command.upgrade(alembic_config(scratch_postgres), "head")
    with database.begin() as connection:
        after = connection.execute(text("SELECT * FROM members ORDER BY id")).mappings().all()
        assert [dict(row) for row in after] == [dict(row) for row in before]
        assert after[1]["id"] == 41
        assert after[1]["at_risk_from"].isoformat() == "2026-03-14T10:00:00+00:00"  # still generated: 2 × 2.5 days
        assert list(after[0].keys())[:3] == ["id", "merchant_id", "joined_at"]
        assert connection.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'members'"
                                        " ORDER BY 1")).all() == indexes
        assert connection.execute(text("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                                        " FROM pg_constraint WHERE 'members'::regclass IN (conrelid, confrelid)"
                                        " ORDER BY 1, 2")).all() == constraints
        assert connection.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'members'")).scalar() == [
            "fillfactor=70"]
        assert connection.execute(text("SELECT has_table_privilege('public', 'members', 'SELECT')")).scalar()
        new_id = connection.execute(text("INSERT INTO members (merchant_id, phone, language, is_opted_out,"
                                         " points_balance, created_at) VALUES (7, '+14155550103', 'en', false, 0,"
                                         " '2026-03-10') RETURNING id")).scalar()
        assert new_id == 51
    with pytest.raises(exc.IntegrityError, match="fk_points_entries_member_id_members"), database.begin() as connection:
        connection.execute(text("INSERT INTO points_entries (merchant_id, member_id, kind, points, balance_after,"
                                " idempotency_key, created_at) VALUES (7, 999, 'earn', 5, 5, 'p2', '2026-03-10')"))
    with pytest.raises(exc.IntegrityError, match="uq_members_merchant_id_phone"), database.begin() as connection:
        connection.execute(text("INSERT INTO members (merchant_id, phone, language, is_opted_out, points_balance,"
                                " created_at) VALUES (7, '+14155550101', 'en', false, 0, '2026-03-10')"))
    command.downgrade(alembic_config(scratch_postgres), "0028")
    with database.connect() as connection:
        assert [dict(row) for row in connection.execute(text("SELECT * FROM members WHERE id < 50 ORDER BY id"))
                .mappings()] == [dict(row) for row in before]
        assert list(connection.execute(text("SELECT * FROM members LIMIT 1")).keys())[:3] == ["id", "merchant_id",
                                                                                             "phone"]
    database.dispose()
