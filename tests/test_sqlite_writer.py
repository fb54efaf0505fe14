"""SQLite's writers queue on a lock file beside the database: held from a transaction's first write to
its end, waited for by other threads and processes, never by the thread that holds it."""
from __future__ import annotations

import fcntl
import gc
import os
import sqlite3
import threading

import pytest
from sqlalchemy import text

from smscrm.db import sqlite_writer
from smscrm.db.engine import make_engine


@pytest.fixture
def path(tmp_path) -> str:
    database = str(tmp_path / "shop.db")
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE texts (id INTEGER PRIMARY KEY, body TEXT UNIQUE)")
    return database


def connect(path: str, timeout: float = 5.0) -> sqlite_writer.Connection:
    return sqlite3.connect(path, timeout=timeout, factory=sqlite_writer.Connection, check_same_thread=False)


def is_free(path: str) -> bool:
    """Whether another process could take the writer lock now."""
    descriptor = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)  # closing lets go of the lock, if it was taken
    return True


def test_the_lock_is_held_from_the_first_write_to_the_commit(path):
    connection = connect(path)
    connection.execute("SELECT count(*) FROM texts").fetchall()
    assert is_free(path)  # a read takes nothing
    connection.execute("INSERT INTO texts (body) VALUES ('JOIN')")
    connection.execute("  update texts SET body = 'BAL'")  # any case, leading blanks
    assert not is_free(path)
    connection.commit()
    assert is_free(path)
    connection.close()


@pytest.mark.parametrize("end", ["rollback", "close"])
def test_a_rollback_or_a_close_lets_go(path, end):
    connection = connect(path)
    connection.execute("DELETE FROM texts")
    assert not is_free(path)
    getattr(connection, end)()
    assert is_free(path)


def test_a_connection_dropped_in_a_transaction_lets_go(path):
    connection = connect(path)
    connection.execute("INSERT INTO texts (body) VALUES ('JOIN')")
    assert not is_free(path)
    del connection
    gc.collect()
    assert is_free(path)


def test_a_write_in_autocommit_mode_lets_go_after_the_statement(path):
    connection = connect(path)
    connection.isolation_level = None
    connection.execute("INSERT INTO texts (body) VALUES ('JOIN')")
    assert is_free(path)
    assert connection.execute("SELECT body FROM texts").fetchall() == [("JOIN",)]


def test_a_failed_first_write_lets_go_when_no_transaction_is_left(path):
    connection = connect(path)
    connection.isolation_level = None
    connection.execute("INSERT INTO texts (body) VALUES ('JOIN')")
    with pytest.raises(sqlite3.IntegrityError):
        connection.execute("INSERT INTO texts (body) VALUES ('JOIN')")
    assert is_free(path)


def test_a_writer_in_another_thread_waits_for_the_commit_and_then_writes(path):
    first, second = connect(path), connect(path)
    first.execute("INSERT INTO texts (body) VALUES ('first')")
    started, done = threading.Event(), threading.Event()

    def write_second() -> None:
        started.set()
        second.execute("INSERT INTO texts (body) VALUES ('second')")
        second.commit()
        done.set()

    thread = threading.Thread(target=write_second)
    thread.start()
    started.wait()
    assert not done.wait(0.2)  # it waits on the lock file while the first transaction is open
    first.commit()
    assert done.wait(5)
    thread.join()
    assert [body for (body,) in first.execute("SELECT body FROM texts ORDER BY id")] == ["first", "second"]
    assert is_free(path)


def test_a_thread_never_waits_for_its_own_lock(path):
    """A second connection of the thread that holds the lock is left to SQLite's busy timeout, as before,
    instead of waiting for a lock only this thread could let go."""
    holder, other = connect(path), connect(path, timeout=0.1)
    holder.execute("INSERT INTO texts (body) VALUES ('JOIN')")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        other.execute("INSERT INTO texts (body) VALUES ('BAL')")
    holder.commit()
    other.execute("INSERT INTO texts (body) VALUES ('BAL')")
    other.commit()
    assert is_free(path)


def test_a_writer_that_cannot_get_the_lock_in_time_is_left_to_sqlite(path):
    descriptor = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(descriptor, fcntl.LOCK_EX)  # another process holds the lock and writes nothing
    try:
        connection = connect(path, timeout=0.2)
        connection.execute("INSERT INTO texts (body) VALUES ('JOIN')")  # waited 0.2 s, then SQLite let it write
        connection.commit()
        assert connection.execute("SELECT count(*) FROM texts").fetchone() == (1,)
    finally:
        os.close(descriptor)


def test_an_in_memory_database_has_no_lock_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    connection = sqlite3.connect(":memory:", factory=sqlite_writer.Connection)
    connection.execute("CREATE TABLE texts (body TEXT)")
    connection.execute("INSERT INTO texts VALUES ('JOIN')")
    connection.commit()
    assert list(tmp_path.iterdir()) == []


def test_the_engines_sqlite_connections_take_the_lock(path):
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO texts (body) VALUES ('JOIN')"))
        assert not is_free(path)
    assert is_free(path)
    with engine.connect() as connection:  # returned to the pool without a commit: the pool's rollback lets go
        connection.execute(text("INSERT INTO texts (body) VALUES ('BAL')"))
        assert not is_free(path)
    assert is_free(path)
    engine.dispose()
