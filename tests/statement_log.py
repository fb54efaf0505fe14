"""The SQL statements a piece of work sends, for tests that hold a hot path to its round trips."""
from sqlalchemy import event


def statements_of(engine, work) -> list[str]:
    """Run `work()` and return the statements it executed on `engine`, in order (BEGIN and COMMIT are not
    statements here: the driver sends them)."""
    return [statement for statement, _autocommit in _executed(engine, work)]


def autocommit_statements_of(engines, work) -> list[tuple[str, bool]]:
    """Run `work()` and return, for each statement it executed on `engines` (an engine, or several: an app's
    `app_engines`; PostgreSQL), its first word and whether it ran outside any transaction (the connection in
    autocommit mode: no BEGIN, no COMMIT)."""
    return [(statement.split()[0], autocommit) for statement, autocommit in _executed(engines, work)]


def app_engines(app) -> list:
    """The app's engines: its one engine."""
    return [app.extensions["smscrm.engine"]]


def _executed(engines, work) -> list[tuple[str, bool | None]]:
    """Each statement `work()` executed on `engines`, in order, with its connection's autocommit flag as it
    was sent (None where the driver has none)."""
    engines = engines if isinstance(engines, (list, tuple)) else [engines]
    executed = []

    def note(connection, _cursor, statement, *_args) -> None:
        executed.append((statement, getattr(connection.connection.dbapi_connection, "autocommit", None)))

    for engine in engines:
        event.listen(engine, "before_cursor_execute", note)
    try:
        work()
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", note)
    return executed
