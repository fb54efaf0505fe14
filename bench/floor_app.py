"""The floor under the webhook, for `bench/webhook --floor`: its database work and nothing else.

For each text it runs exactly the statements the webhook runs for a JOIN from a new phone or a BAL
from a member, on the same kind of connection (SQLite: a transaction of its own; PostgreSQL: autocommit,
one chain statement for the rows): the arrival query, then the rows the webhook writes (membership,
consent evidence, reply, inbound text; or reply and inbound text), built with the webhook's own row
makers and `insert_all`. It skips everything else the webhook does: no signature check, no keyword
parsing, no phone number parsing, no texts in two languages (a fixed reply), no conversation. A BAL that
overtakes its shopper's JOIN (the other worker still writing it) is answered without a membership, as
the webhook answers it (a hint to join), instead of joining the shopper twice.
The webhook's ratio to this app is what its own logic costs; this app's ratio to the reference is the
best the webhook could reach with the rows issue 2 asks it to keep.

Served as `gunicorn 'floor_app:create_app()'`; the database is SMSCRM_DATABASE_URL.
"""
from __future__ import annotations

import os

from flask import Flask, Response, request

from smscrm.db import prepared
from smscrm.db.engine import autocommit_connection, make_engine, utcnow
from smscrm.db.insert_chain import NewRow, insert_all
from smscrm.loyalty import members
from smscrm.messaging import consent, outbox
from smscrm.messaging.arrival import _ARRIVAL
from smscrm.models import ConsentAction, ConsentChannel, InboundMessage, Intent

REPLY = "Thanks for texting."
TWIML = f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{REPLY}</Message></Response>'


def create_app() -> Flask:
    engine = make_engine(os.environ["SMSCRM_DATABASE_URL"])
    is_postgres = engine.dialect.name == "postgresql"
    app = Flask(__name__)

    @app.post("/sms/inbound")
    def receive_text():
        form = request.form
        sid, phone, to_phone, body = form["MessageSid"], form["From"], form["To"], form["Body"]
        now = utcnow()
        with autocommit_connection(engine) if is_postgres else engine.begin() as connection:
            row = prepared.first(connection, _ARRIVAL, {"sid": sid, "to_phone": to_phone, "phone": phone})
            joining = row.member_id is None and body.startswith(("JOIN", "入会"))
            member = (members.enrolment(row.merchant_id, phone, name=None, language="en", referral_code=sid[-6:],
                                        now=now) if joining else row.member_id)
            rows = [member, consent.event(
                merchant_id=row.merchant_id, phone=phone, member_id=member, action=ConsentAction.OPT_IN,
                keyword="JOIN", channel=ConsentChannel.SMS, now=now, source_sid=sid,
            )] if joining else []
            reply = outbox.reply(merchant_id=row.merchant_id, member_id=member, to_phone=phone, from_phone=to_phone,
                                 body=REPLY, purpose="welcome" if joining else "balance", now=now)
            insert_all(connection, [*rows, reply, NewRow(InboundMessage.__table__, {
                "merchant_id": row.merchant_id, "message_sid": sid, "from_phone": phone, "to_phone": to_phone,
                "body": body, "intent": Intent.JOIN if joining else Intent.BALANCE, "received_at": now,
                "member_id": member, "reply_id": reply,
            })])
        return Response(TWIML, mimetype="text/xml")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app
