"""Texts through the app's WSGI callable, for `bench/webhook --compare-with`'s in-process turns
(`campaign_bench.take_turns`): run from the tree to measure, with the app's environment (its
TWILIO_AUTH_TOKEN and SMSCRM_PUBLIC_URL sign the texts) and BENCH_TO, the merchant's number.
It prints "ready"; for each line N on stdin, N new shoppers text JOIN and then BAL (one in four
in Chinese), signed as Twilio signs them; it prints the CPU milliseconds per text.

Each batch's requests are signed and built (WSGI environs) before the clock starts, and then handed
to the app one by one as a server would: what is timed is the app's own work, not the signing or a
test client's.
"""
from __future__ import annotations

import os
import secrets
import sys
import time


def serve_batches() -> None:
    from twilio.request_validator import RequestValidator
    from werkzeug.test import EnvironBuilder

    from smscrm import (
        create_app,  # the tree this process runs in (PYTHONPATH), not necessarily the bench's
    )

    app = create_app()
    validator, url = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"]), os.environ["SMSCRM_PUBLIC_URL"] + "/sms/inbound"
    run = secrets.token_hex(4)
    new_phones = int(run, 16)  # this run's shoppers, apart from other runs'

    def request(n: int, phone: str, body: str) -> dict:
        form = {"MessageSid": f"SM{run}{n:024d}", "AccountSid": "AC" + "0" * 32, "From": phone,
                "To": os.environ["BENCH_TO"], "Body": body, "NumMedia": "0", "NumSegments": "1"}
        return EnvironBuilder(path="/sms/inbound", method="POST", data=form,
                              headers={"X-Twilio-Signature": validator.compute_signature(url, form)}).get_environ()

    def texts_of(numbers) -> list[dict]:
        environs = []
        for n in numbers:
            phone, chinese = f"+1629{2_000_000 + (new_phones + n) % 8_000_000:07d}", n % 4 == 0  # valid numbers
            environs.append(request(2 * n, phone, "入会" if chinese else "JOIN Ann"))
            environs.append(request(2 * n + 1, phone, "积分" if chinese else "BAL"))
        return environs

    def answer(environ: dict) -> None:
        status = []
        body = b"".join(app(environ, lambda answered, _headers, _exc_info=None: status.append(answered)))
        if not status[0].startswith("200") or b"<Message>" not in body:
            raise RuntimeError(f"{environ['wsgi.input'].getvalue()!r}: {status[0]} {body!r}")

    done = 150
    for environ in texts_of(range(done)):  # warm-up
        answer(environ)
    print("ready", flush=True)
    for line in sys.stdin:
        count = int(line)
        batch = texts_of(range(done, done + count))
        done += count
        started = time.process_time()
        for environ in batch:
            answer(environ)
        print(f"{1000 * (time.process_time() - started) / len(batch):.4f}", flush=True)


if __name__ == "__main__":
    serve_batches()
