"""The reference that bench/webhook measures the inbound webhook against.

The least a Flask app under gunicorn can do with an inbound text: read the form, INSERT one row
in one transaction on the same database (same engine settings as smscrm: SQLite in WAL mode with a
busy timeout, or PostgreSQL through psycopg), and answer a fixed TwiML reply.
Served as `gunicorn 'reference_app:create_app()'`; the database is SMSCRM_DATABASE_URL.

SMSCRM_BENCH_INSERTS=k makes it INSERT k rows instead, in its one transaction, each with a statement
built once at import as smscrm's hot paths do: `bench/webhook --ceiling` measures what k statements
cost with nothing else to do.
"""
from __future__ import annotations

import os

from flask import Flask, Response, request
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert

from smscrm.db.engine import make_engine, utcnow
from smscrm.db.types import UTCDateTime

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>ok</Message></Response>'

metadata = MetaData()
texts_received = Table(
    "bench_reference_texts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("message_sid", String(64), nullable=False),
    Column("from_phone", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
)
PREPARED_INSERT = insert(texts_received)


def create_table(database_url: str) -> None:
    """Create the reference's one table (bench/webhook calls this before starting gunicorn)."""
    engine = make_engine(database_url)
    metadata.create_all(engine)
    engine.dispose()


def create_app() -> Flask:
    engine = make_engine(os.environ["SMSCRM_DATABASE_URL"])
    ceiling_inserts = int(os.environ.get("SMSCRM_BENCH_INSERTS", "0"))
    app = Flask(__name__)

    @app.post("/sms/inbound")
    def receive_text():
        row = {
            "message_sid": request.form.get("MessageSid", ""),
            "from_phone": request.form.get("From", ""),
            "body": request.form.get("Body", ""),
            "received_at": utcnow(),
        }
        with engine.begin() as connection:
            if ceiling_inserts:  # as the webhook does: a statement built once, executed with parameters
                for _ in range(ceiling_inserts):
                    connection.execute(PREPARED_INSERT, row)
            else:
                connection.execute(insert(texts_received).values(**row))
        return Response(TWIML, mimetype="text/xml")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app
