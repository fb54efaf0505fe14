"""The busiest statements, run on the driver's cursor: compiled by SQLAlchemy once, executed without its
execution machinery.

An inbound text runs a handful of small statements. Through `Connection.execute` each one costs about
60 µs of Python besides the database's own work, more than the INSERT itself takes on SQLite. `run` sends
the SQL that SQLAlchemy compiled for the connection's dialect, converts the parameters and the result
columns with the statements' own SQLAlchemy types (so a value is stored and read exactly as through the
ORM), and keeps what matters of `Connection.execute`: the statement runs in the connection's transaction,
errors are raised as SQLAlchemy's (IntegrityError, ...), a lost server connection is invalidated, and
`before_cursor_execute`/`after_cursor_execute` listeners see it (they cannot rewrite it).
"""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, NoReturn

from sqlalchemy import Connection, Insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound
from sqlalchemy.sql import Executable

_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    binds: tuple[tuple[str, Any, _Processor], ...]  # (name, value when not given, bind processor), in SQL order
    positional: bool
    row: type | None  # the result rows' namedtuple, None for a statement that returns nothing
    columns: tuple[_Processor, ...]  # each result column's processor


def run(connection: Connection, statement: Executable, parameters: dict) -> list[tuple]:
    """Execute `statement` (built once, as the hot paths' statements are) with `parameters` on the
    connection's cursor; the result rows, as named tuples."""
    compiled = _compile(statement, connection.dialect)
    rows = _execute(connection, compiled, parameters, _all_rows if compiled.row is not None else _no_rows)
    processors = compiled.columns
    return [compiled.row(*(value if process is None else process(value) for process, value in zip(processors, row)))
            for row in rows]


def inserted_id(connection: Connection, statement: Insert, parameters: dict) -> int:
    """Execute an INSERT of one row without RETURNING; the id the driver read back (`cursor.lastrowid`: on SQLite
    the new row's rowid, which an INTEGER PRIMARY KEY is). Only for drivers that have it (not psycopg)."""
    return _execute(connection, _compile(statement, connection.dialect), parameters, _last_row_id)


def _execute(connection: Connection, compiled: _Compiled, parameters: dict, read: Callable[[Any], Any]):
    """Run the statement on a cursor of the connection's; what `read` takes from the cursor afterwards."""
    arguments = _arguments(compiled, parameters)
    cursor = connection.connection.cursor()
    listening = connection._has_events or connection.engine._has_events  # what Connection.execute itself reads
    try:
        if listening:
            for listener in connection.dispatch.before_cursor_execute:
                listener(connection, cursor, compiled.sql, arguments, None, False)
        cursor.execute(compiled.sql, arguments)
        if listening:
            for listener in connection.dispatch.after_cursor_execute:
                listener(connection, cursor, compiled.sql, arguments, None, False)
        return read(cursor)
    except connection.dialect.loaded_dbapi.Error as error:
        _raise(connection, cursor, compiled.sql, arguments, error)
    finally:
        cursor.close()


def _all_rows(cursor) -> list:
    return cursor.fetchall()


def _no_rows(_cursor) -> list:
    return []


def _last_row_id(cursor) -> int:
    return cursor.lastrowid


def first(connection: Connection, statement: Executable, parameters: dict) -> tuple | None:
    """The first result row, or None."""
    rows = run(connection, statement, parameters)
    return rows[0] if rows else None


def one(connection: Connection, statement: Executable, parameters: dict) -> tuple:
    """The one result row; NoResultFound or MultipleResultsFound otherwise, as `Result.one()`."""
    rows = run(connection, statement, parameters)
    if not rows:
        raise NoResultFound("no row was returned")
    if len(rows) > 1:
        raise MultipleResultsFound(f"{len(rows)} rows were returned")
    return rows[0]


def _arguments(compiled: _Compiled, parameters: dict) -> Sequence | dict:
    """The driver's parameters: each bind's value (or its default), converted by its type."""
    values = []
    for name, default, process in compiled.binds:
        value = parameters.get(name, default)
        values.append(value if process is None else process(value))
    return values if compiled.positional else dict(zip((name for name, _default, _process in compiled.binds), values))


@cache  # statements are module constants or cached per shape, so this holds a few dozen entries
def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    if "__[POSTCOMPILE" in compiled.string or compiled.escaped_bind_names:
        raise ValueError("prepared.run takes statements without expanding parameters or names to escape")
    names = compiled.positiontup if compiled.positional else list(compiled.binds)
    binds = tuple(
        (name, compiled.binds[name].value, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
        for name in names
    )
    returned = list(getattr(statement, "exported_columns", ()))
    row = namedtuple("Row", [column.key for column in returned], rename=True) if returned else None
    columns = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in returned)
    return _Compiled(compiled.string, binds, compiled.positional, row, columns)


def _raise(connection: Connection, cursor, sql: str, arguments, error: Exception) -> NoReturn:
    dialect = connection.dialect
    is_disconnect = dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)
    if is_disconnect:
        connection.invalidate(error)
    raise DBAPIError.instance(
        sql, arguments, error, dialect.loaded_dbapi.Error, connection_invalidated=is_disconnect, dialect=dialect,
    ) from error
