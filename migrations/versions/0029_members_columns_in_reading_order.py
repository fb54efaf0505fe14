"""The members table's columns in the order its scans read best (issue 22, bench/segment_count)

A segment's live count reads every member row of the merchant, and PostgreSQL finds a column by walking the row
from its start: each text before it (phone, name, …) is measured on the way, and a number after a text must be
aligned again. The columns the segment filters and counts test came last or behind texts (interest_topics the
22nd, at_risk_from the 23rd). The table is written again with the fixed-width columns first, widest first (no
padding between them), then the short texts the filters read (language, value_class, stage, interest_topics),
then the free texts. Paired runs of bench/segment_count on the same rows in either order, quiet: at risk after 30
days 1.36–1.41× the row-reading reference → 1.07–1.15×, the exclusion 1.38–1.47× → 1.12–1.21×, interests
1.35–1.49× → 1.26–1.32×; and the table 18% smaller (bench/README-members.md).

PostgreSQL cannot move a column, so the table is copied: everything else (types, defaults, the generated
at_risk_from, constraints, indexes, fillfactor, the id sequence, the other tables' foreign keys, grants to other
roles) is read from the database's catalogue and given back to the copy unchanged, in this migration's
transaction. The copy holds the table's lock for as long as it takes (15 s for 1,100,000 members here, plus
checking the foreign keys that point at members again). SQLite keeps its order: its row header gives every
column's size at once, and the zero-set-up database holds a shop's members, not a chain's.

Revision ID: 0029
Revises: 0028
"""
import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

READING_ORDER = (
    "id", "merchant_id", "joined_at", "created_at", "first_visit_at", "last_visit_at", "at_risk_from",
    "total_spend_minor", "typical_visit_gap_days", "points_balance", "visit_count", "birthday_month", "birthday_day",
    "birth_year", "is_opted_out", "language", "value_class", "stage", "interest_topics", "phone", "name",
    "referral_code", "notes",
)
ORDER_0028 = (
    "id", "merchant_id", "phone", "name", "language", "joined_at", "is_opted_out", "points_balance",
    "birthday_month", "birthday_day", "created_at", "stage", "value_class", "first_visit_at", "last_visit_at",
    "visit_count", "total_spend_minor", "typical_visit_gap_days", "referral_code", "birth_year", "notes",
    "interest_topics", "at_risk_from",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        rewrite_members(READING_ORDER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        rewrite_members(ORDER_0028)


def rewrite_members(order: tuple[str, ...]) -> None:
    """Copy members into a table with the columns in `order`, keeping all the rest as the catalogue has it."""
    bind = op.get_bind()

    def rows(sql: str) -> list:
        return bind.execute(sa.text(sql)).all()

    columns = {column.name: column for column in rows(
        "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,"
        " a.attgenerated = 's' AS generated, pg_get_expr(d.adbin, d.adrelid) AS expression"
        " FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        " WHERE a.attrelid = 'members'::regclass AND a.attnum > 0 AND NOT a.attisdropped")}
    if set(columns) != set(order):
        raise RuntimeError(f"members has the columns {sorted(columns)}, not the {sorted(order)} this migration orders")
    own_constraints = rows("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                           " WHERE conrelid = 'members'::regclass ORDER BY contype <> 'p', conname")
    indexes = rows("SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'members'"
                   " AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'members'::regclass)")
    pointing_here = rows("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
                         " WHERE confrelid = 'members'::regclass AND conrelid <> 'members'::regclass")
    (options,), = rows("SELECT coalesce(array_to_string(reloptions, ', '), '') FROM pg_class"
                       " WHERE oid = 'members'::regclass")
    (sequence,), = rows("SELECT pg_get_serial_sequence('members', 'id')")
    grants = rows("SELECT CASE grantee WHEN 'PUBLIC' THEN grantee ELSE quote_ident(grantee) END, privilege_type,"
                  " is_grantable = 'YES' FROM information_schema.role_table_grants"
                  " WHERE table_schema = current_schema() AND table_name = 'members'"
                  " AND grantee <> (SELECT tableowner FROM pg_tables"
                  " WHERE schemaname = current_schema() AND tablename = 'members')")

    def definition(name: str) -> str:
        column = columns[name]
        text = f"{name} {column.type}"
        if column.generated:
            text += f" GENERATED ALWAYS AS ({column.expression}) STORED"
        elif column.expression is not None:
            text += f" DEFAULT {column.expression}"
        return text + (" NOT NULL" if column.not_null else "")

    written = ", ".join(name for name in order if not columns[name].generated)
    for table, name, _ in pointing_here:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    if sequence:
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    op.execute("ALTER TABLE members RENAME TO members_before_0029")
    op.execute(f"CREATE TABLE members ({', '.join(definition(name) for name in order)})"
               + (f" WITH ({options})" if options else ""))
    op.execute(f"INSERT INTO members ({written}) SELECT {written} FROM members_before_0029 ORDER BY id")
    op.execute("DROP TABLE members_before_0029")
    for name, constraint in own_constraints:
        op.execute(f"ALTER TABLE members ADD CONSTRAINT {name} {constraint}")
    for (index,) in indexes:
        op.execute(index)
    if sequence:
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY members.id")
    for table, name, constraint in pointing_here:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {constraint}")
    for grantee, privilege, grantable in grants:  # an operator's read-only role, say
        op.execute(f"GRANT {privilege} ON members TO {grantee}" + (" WITH GRANT OPTION" if grantable else ""))
    op.execute("ANALYZE members")
