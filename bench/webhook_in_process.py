"""Texts through Flask's test client, for `bench/webhook --compare-with`'s in-process turns
(`campaign_bench.take_turns`): run from the tree to measure, with the app's environment (its
TWILIO_AUTH_TOKEN and SMSCRM_PUBLIC_URL sign the texts) and BENCH_TO, the merchant's number.
It prints "ready"; for each line N on stdin, N new shoppers text JOIN and then BAL (one in four
in Chinese), signed as Twilio signs them; it prints the CPU milliseconds per text.
"""
from __future__ import annotations

import os
import secrets
import sys
import time


def serve_batches() -> None:
    from twilio.request_validator import RequestValidator

    from smscrm import create_app  # the tree this process runs in (PYTHONPATH), not necessarily the bench's

    client = create_app().test_client()
    validator, url = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"]), os.environ["SMSCRM_PUBLIC_URL"] + "/sms/inbound"
    run = secrets.token_hex(4)
    new_phones = int(run, 16)  # this run's shoppers, apart from other runs'

    def text(n: int, phone: str, body: str) -> None:
        form = {"MessageSid": f"SM{run}{n:024d}", "AccountSid": "AC" + "0" * 32, "From": phone,
                "To": os.environ["BENCH_TO"], "Body": body, "NumMedia": "0", "NumSegments": "1"}
        response = client.post("/sms/inbound", data=form,
                               headers={"X-Twilio-Signature": validator.compute_signature(url, form)})
        if response.status_code != 200 or b"<Message>" not in response.data:
            raise RuntimeError(f"text {n}: {response.status_code} {response.get_data(as_text=True)}")

    def shoppers(numbers) -> None:
        for n in numbers:
            phone, chinese = f"+1629{(new_phones + n) % 10_000_000:07d}", n % 4 == 0
            text(2 * n, phone, "入会" if chinese else "JOIN Ann")
            text(2 * n + 1, phone, "积分" if chinese else "BAL")

    done = 150
    shoppers(range(done))  # warm-up
    print("ready", flush=True)
    for line in sys.stdin:
        count = int(line)
        started = time.process_time()
        shoppers(range(done, done + count))
        done += count
        print(f"{1000 * (time.process_time() - started) / (2 * count):.4f}", flush=True)


if __name__ == "__main__":
    serve_batches()
