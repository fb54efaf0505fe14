"""The reference that bench/purchase_api measures the purchase API against.

The least a Flask app under gunicorn can do with a purchase sent as JSON: parse the body, INSERT one
row in one transaction on the same database with smscrm's engine settings, and answer 201 with a
small JSON body. No authentication, no validation, no points. Served as
`gunicorn 'purchase_reference:create_app()'`; the database is SMSCRM_DATABASE_URL.
"""
from __future__ import annotations

import os

from flask import Flask, jsonify, request
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, insert

from smscrm.db.types import UTCDateTime
from smscrm.db.engine import make_engine, utcnow

metadata = MetaData()
purchases_received = Table(
    "bench_reference_purchases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("phone", String(40), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("idempotency_key", String(80)),
    Column("received_at", UTCDateTime(), nullable=False),
)


def create_table(database_url: str) -> None:
    engine = make_engine(database_url)
    metadata.create_all(engine)
    engine.dispose()


def create_app() -> Flask:
    engine = make_engine(os.environ["SMSCRM_DATABASE_URL"])
    app = Flask(__name__)

    @app.post("/api/v1/purchases")
    def record_purchase():
        body = request.get_json()
        with engine.begin() as connection:
            row_id = connection.execute(
                insert(purchases_received)
                .values(
                    phone=body["phone"], amount_minor=body["amount"],
                    idempotency_key=request.headers.get("Idempotency-Key"), received_at=utcnow(),
                )
                .returning(purchases_received.c.id)
            ).scalar_one()
        return jsonify(id=row_id, points_earned=0), 201

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app
