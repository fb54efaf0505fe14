"""Rows a change writes together, where a later row may hold the id of an earlier one.

An inbound JOIN writes the membership, its consent event, the reply and the inbound text, each
pointing at rows before it. Written one INSERT at a time that is four round trips to the database;
`insert_all` sends PostgreSQL one statement instead, each INSERT a data-modifying CTE whose
RETURNING id feeds the rows after it (PostgreSQL checks the foreign keys once the statement is
done). SQLite has no round trips to save and no INSERT inside WITH: there the rows are INSERTed one
by one, each new id read from the driver (`lastrowid`: every table's id is an INTEGER PRIMARY KEY,
which SQLite makes the rowid), which costs less than RETURNING it. Either way the rows belong to the
caller's transaction: when one breaks a constraint, IntegrityError is raised and the rollback leaves
none of them.

A chain may also carry an UPDATE (`RowChange`), such as a purchase counted in the member's row with
its ledger entry and receipt. In one PostgreSQL statement every part sees the database as it was
before the statement, so nothing in the chain may read what another part writes.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import (
    Column,
    Connection,
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    insert,
    select,
    true,
)

from smscrm.db import prepared


@dataclass(eq=False)
class NewRow:
    """A row to INSERT into `table`. A value may be another NewRow: its id goes in. `id` is known once written."""

    table: Table
    values: dict
    id: int | None = field(default=None, init=False)


@dataclass(frozen=True, eq=False)
class RowChange:
    """An UPDATE written with the rows, with its parameters (named unlike the rows' columns' `r<n>_<column>`)."""

    statement: Update
    values: dict


def insert_all(connection: Connection, rows: Sequence[NewRow | RowChange]) -> None:
    """INSERT `rows` in order and set each one's id; a NewRow a value points to is written before it
    (earlier in `rows`, or already). A RowChange among them is executed in its place."""
    if not rows:
        return
    position_of = {id(row): position for position, row in enumerate(rows)}
    for position, row in enumerate(rows):
        if isinstance(row, RowChange):
            continue
        if missing := _computed_defaults(row.table) - row.values.keys():
            raise ValueError(f"a row for {row.table.name} needs a value for {', '.join(sorted(missing))}")
        for value in row.values.values():
            if _unwritten(value) and position_of.get(id(value), position) >= position:
                raise ValueError(f"a row for {row.table.name} points to a row that is not written before it")
    if connection.dialect.name == "postgresql" and len(rows) > 1 and any(isinstance(row, NewRow) for row in rows):
        _insert_as_one_statement(connection, rows, position_of)
    else:
        for row in rows:
            if isinstance(row, RowChange):
                connection.execute(row.statement, row.values)
                continue
            values = {column: _id_or_value(value) for column, value in row.values.items()}
            if connection.dialect.name == "sqlite":
                row.id = prepared.inserted_id(connection, _insert(row.table, frozenset(values)), values)
            else:
                (row.id,) = prepared.one(connection, _insert_returning_id(row.table, frozenset(values)), values)


def insert_one(connection: Connection, row: NewRow) -> int:
    """INSERT one row; its id."""
    insert_all(connection, [row])
    return row.id


@cache
def _computed_defaults(table: Table) -> frozenset[str]:
    """Columns whose default is computed in Python: a CTE would not compute it, so rows must give the value."""
    return frozenset(column.name for column in table.c if column.default is not None and not column.default.is_scalar)


def _unwritten(value) -> bool:
    return isinstance(value, NewRow) and value.id is None


def _id_or_value(value):
    return value.id if isinstance(value, NewRow) else value


def _insert_as_one_statement(
    connection: Connection, rows: Sequence[NewRow | RowChange], position_of: dict[int, int]
) -> None:
    shape = tuple(
        row.statement if isinstance(row, RowChange) else (row.table, tuple(
            (column, position_of[id(value)] if _unwritten(value) else None)
            for column, value in sorted(row.values.items())
        ))
        for row in rows
    )
    parameters = {
        f"r{position}_{column}": _id_or_value(value)
        for position, row in enumerate(rows) if isinstance(row, NewRow)
        for column, value in row.values.items()
        if not _unwritten(value)
    }
    for change in (row for row in rows if isinstance(row, RowChange)):
        if clash := parameters.keys() & change.values.keys():
            raise ValueError(f"an UPDATE in the chain binds {', '.join(sorted(clash))}, which a row binds too")
        parameters.update(change.values)
    ids = prepared.one(connection, _chain(shape), parameters)
    for row, row_id in zip((row for row in rows if isinstance(row, NewRow)), ids):
        row.id = row_id


@cache  # one statement per shape of chain: the hot paths write a handful of shapes
def _chain(shape: tuple) -> Select:
    """WITH r0 AS (INSERT … RETURNING id), r1 AS (INSERT … SELECT …, r0.id FROM r0 RETURNING id), …
    SELECT r0.id, r1.id, …: the rows' ids, in order. An UPDATE is a CTE of its own, referred to by nothing
    (PostgreSQL runs every data-modifying CTE)."""
    written, changes = {}, []
    for position, part in enumerate(shape):
        if isinstance(part, Update):
            changes.append(part.cte(f"r{position}"))
            continue
        table, columns = part
        values = [
            written[link].c.id if link is not None
            else bindparam(f"r{position}_{column}", type_=table.c[column].type)
            for column, link in columns
        ]
        defaults = _scalar_defaults(table, {column for column, _link in columns})
        values += [bindparam(f"r{position}_{column.name}", column.default.arg, type_=column.type) for column in defaults]
        names = [column for column, _link in columns] + [column.name for column in defaults]
        linked = [written[link] for link in dict.fromkeys(link for _column, link in columns if link is not None)]
        statement: Insert = insert(table).from_select(names, _one_row(select(*values), linked)).returning(table.c.id)
        written[position] = statement.cte(f"r{position}")
    rows = list(written.values())
    return _one_row(select(*(row.c.id for row in rows)), rows).add_cte(*changes)


def _one_row(statement: Select, ctes: list) -> Select:
    """FROM the written rows' CTEs, each one row: joined on nothing, since they are one row each."""
    if not ctes:
        return statement
    joined = ctes[0]
    for cte in ctes[1:]:
        joined = joined.join(cte, true())
    return statement.select_from(joined)


def _scalar_defaults(table: Table, given: set[str] | frozenset[str]) -> list[Column]:
    """The columns not given whose default is a value: the statement binds it (the database's defaults it leaves)."""
    return [column for column in table.c
            if column.default is not None and column.default.is_scalar and column.name not in given]


@cache
def _insert(table: Table, given: frozenset[str]) -> Insert:
    """INSERT of one row with the `given` columns (and the others' scalar defaults)."""
    values = {column: bindparam(column, type_=table.c[column].type) for column in given}
    values |= {column.name: bindparam(column.name, column.default.arg, type_=column.type)
               for column in _scalar_defaults(table, given)}
    return insert(table).values(values)


@cache
def _insert_returning_id(table: Table, given: frozenset[str]) -> Insert:
    """`_insert`, RETURNING the row's id."""
    return _insert(table, given).returning(table.c.id)
