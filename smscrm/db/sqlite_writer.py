"""One writer at a time on a SQLite file, and the next one woken as soon as the lock is free.

SQLite lets one connection write at a time. A connection that finds the write lock taken waits in
SQLite's busy handler, which sleeps 1, 2, 5, 10 ... 100 ms between tries, while the transaction it
waits for (a text's few INSERTs and their COMMIT) holds the lock for a fraction of a millisecond.
Two web workers writing at once therefore spend much of their time asleep with the lock free.

Here a connection that is about to write first takes an exclusive lock on a file beside the database
(`<database>-writer.lock`) and keeps it until its transaction ends, so writers queue on the lock file
instead, trying again every 50 µs to 1 ms. The lock is taken exactly when SQLite's would be: before
the first INSERT, UPDATE, DELETE or REPLACE outside a transaction (when the driver opens one), and it
is let go after COMMIT or ROLLBACK, or after that statement when no transaction is left open (a
statement in autocommit mode, a failed one). Anything else that writes (DDL, PRAGMA) and a writer
that cannot get the lock within the busy timeout go on as before, under SQLite's busy handler. A thread
never waits for a lock that one of its own connections holds: SQLite decides, as it always did.

In-memory databases, URI file names and systems without `fcntl.flock` (Windows) are left to SQLite.
"""
from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections import Counter

try:
    import fcntl
except ImportError:  # Windows: SQLite's busy handler alone
    fcntl = None

_WRITE = re.compile(r"\s*(?:INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)  # the driver opens a transaction for these
_holders = Counter()  # thread ident -> how many of that thread's connections hold the lock now
_holders_guard = threading.Lock()
_FIRST_WAIT, _LONGEST_WAIT = 0.00005, 0.001  # seconds between tries


class Connection(sqlite3.Connection):
    """A sqlite3 connection that takes the writer lock before it writes (`sqlite3.connect(factory=...)`)."""

    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        path = os.fsdecode(database)
        is_file = fcntl is not None and not kwargs.get("uri") and path not in ("", ":memory:")
        self._lock_path = f"{path}-writer.lock" if is_file else None
        self._lock_file: int | None = None
        self._holder: int | None = None  # the thread that took the lock, while it is held
        self._timeout = kwargs.get("timeout", 5.0)

    def cursor(self, factory=None):
        return super().cursor(factory or _Cursor)

    def execute(self, sql, parameters=(), /):  # sqlite3's shortcuts would make a plain cursor
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, parameters, /):
        return self.cursor().executemany(sql, parameters)

    def commit(self) -> None:
        self._ending(super().commit)

    def rollback(self) -> None:
        self._ending(super().rollback)

    def _ending(self, end) -> None:
        """End the transaction (COMMIT or ROLLBACK), then let go of the lock, whether or not that worked."""
        try:
            end()
        finally:
            self._let_go()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._close_lock_file()

    def __del__(self) -> None:
        """A connection dropped without close() lets go of the lock too."""
        if hasattr(self, "_lock_file"):  # not when sqlite3 could not open the database
            self._close_lock_file()

    def _close_lock_file(self) -> None:
        self._let_go()
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None

    def _before(self, sql: str) -> None:
        """Before a statement: take the lock if it is a write that opens a transaction."""
        if self._lock_path is None or self._holder is not None or self.in_transaction or not _WRITE.match(sql):
            return
        if not _holders[threading.get_ident()]:
            self._take()

    def _after(self) -> None:
        """After a statement: nothing left open to protect (autocommit, or a write that failed) lets go."""
        if self._holder is not None and not self.in_transaction:
            self._let_go()

    def _take(self) -> None:
        if self._lock_file is None:
            self._lock_file = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline, wait = time.monotonic() + self._timeout, _FIRST_WAIT
        while True:
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return  # SQLite's own busy handler decides from here
                time.sleep(wait)
                wait = min(2 * wait, _LONGEST_WAIT)
        self._holder = threading.get_ident()
        with _holders_guard:
            _holders[self._holder] += 1

    def _let_go(self) -> None:
        if self._holder is None:
            return
        with _holders_guard:
            _holders[self._holder] -= 1
            if not _holders[self._holder]:
                del _holders[self._holder]
        self._holder = None
        fcntl.flock(self._lock_file, fcntl.LOCK_UN)


class _Cursor(sqlite3.Cursor):
    def execute(self, sql, parameters=(), /):
        return self._guarded(super().execute, sql, parameters)

    def executemany(self, sql, parameters, /):
        return self._guarded(super().executemany, sql, parameters)

    def _guarded(self, run, sql, parameters):
        connection = self.connection
        connection._before(sql)
        try:
            return run(sql, parameters)
        finally:
            connection._after()
