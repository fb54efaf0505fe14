"""Partial indexes, declared once for both databases, and the condition a query needs to read one."""
from __future__ import annotations

from sqlalchemy import ColumnElement, Index, literal, text


def index_where(name: str, *columns, where: ColumnElement[bool], unique: bool = False) -> Index:
    """A partial index: only the rows for which `where` holds have an entry, and the others are written without
    one. A query may read it when its own WHERE says `where` holds: the same condition, one branch of it when it
    is an OR, or (for `IS NOT NULL`) a comparison of that column. Conditions on values: `equals_constant`."""
    return Index(name, *columns, unique=unique, postgresql_where=where, sqlite_where=where)


def index_where_set(name: str, *columns, unique: bool = False, set_column: str | None = None) -> Index:
    """An index of the rows whose `set_column` (by default the first column, given by name) is set. For a
    column most rows leave empty (the provider's id of a text not sent yet, the campaign of a reply, a
    member's birthday): those rows are written without an index entry, and a lookup by a value finds the
    same rows. `columns` are names, or columns for an index declared outside its table."""
    return index_where(name, *columns, unique=unique, where=text(f"{set_column or columns[0]} IS NOT NULL"))


def equals_constant(column: ColumnElement, value) -> ColumnElement[bool]:
    """`column = value`, with the value written into the SQL as a constant rather than sent as a parameter: for a
    partial index's condition (`index_where`), and for a query that must be able to read such an index. A database
    proves a partial index's condition only from constants it sees when it plans: PostgreSQL's generic plans,
    which psycopg's prepared statements come to use, see none of the parameters."""
    return column == literal(value, column.type, literal_execute=True)


POSTGRESQL_ONLY: set[str] = set()
"""The names of the indexes only PostgreSQL has (`postgresql_only`), for the check that migrations give the models."""


def postgresql_only(index: Index) -> Index:
    """An index that only PostgreSQL is given (a trigram index, an order SQLite's small databases sort cheaply):
    create_all and the migrations skip it on SQLite."""
    POSTGRESQL_ONLY.add(index.name)
    return index.ddl_if(dialect="postgresql")
