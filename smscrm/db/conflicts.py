"""INSERT … ON CONFLICT on both databases: the dialect's own INSERT, which can skip a row that would break a
unique key (`on_conflict_do_nothing`) instead of failing the whole transaction."""
from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def insert_on_conflict(session: Session, table) -> postgresql.Insert | sqlite.Insert:
    """`insert(table)` in the dialect of the session's database, with its ON CONFLICT clauses."""
    return _INSERTS[session.get_bind().dialect.name](table)
