"""The SQL statements a piece of work sends, for tests that hold a hot path to its round trips."""
from sqlalchemy import event


def statements_of(engine, work) -> list[str]:
    """Run `work()` and return the statements it executed on `engine`, in order (BEGIN and COMMIT are not
    statements here: the driver sends them)."""
    statements = []

    def note(_connection, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return statements
