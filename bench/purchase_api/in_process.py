"""Purchases through Flask's test client, for the in-process CPU figures of bench/purchase_api.

`post_purchases` sends the mix purchases.lua sends (nine in ten from seeded members, one in ten from
new phones). Run as a script, this is a worker that serves batches on command, so that this tree and
the tree of `--compare-with` can take turns in two processes on a machine whose speed drifts:

    SMSCRM_DATABASE_URL=... BENCH_API_KEY=... python in_process.py   # from the tree to measure
    -> prints "ready"; then each line N on stdin -> N purchases, prints the CPU milliseconds per purchase
"""
from __future__ import annotations

import os
import secrets
import sys
import time

MEMBERS = 10_000  # the seeded members: phones +1628 0000000 …


def post_purchases(client, headers: dict, run: str, numbers) -> None:
    """POST /api/v1/purchases for each number in `numbers`, each a new sale with its own key and reference.
    `run` (hex) keeps keys, references and the new phones apart from other runs'."""
    new_phones = int(run, 16)
    for n in numbers:
        phone = f"+1629{(new_phones + n) % 10_000_000:07d}" if n % 10 == 0 else f"+1628{n * 13 % MEMBERS:07d}"
        response = client.post("/api/v1/purchases", headers={**headers, "Idempotency-Key": f"{run}-{n}"},
                               json={"phone": phone, "amount": 100 + n * 37 % 9900, "reference": f"{run}-{n}"})
        if response.status_code != 201:
            raise RuntimeError(f"purchase {n}: {response.status_code} {response.get_data(as_text=True)}")


def serve_batches() -> None:
    from smscrm import create_app  # the tree this process runs in (PYTHONPATH), not necessarily the bench's

    client = create_app().test_client()
    headers, run = {"Authorization": f"Bearer {os.environ['BENCH_API_KEY']}"}, secrets.token_hex(4)
    done = 300
    post_purchases(client, headers, run, range(done))  # warm-up
    print("ready", flush=True)
    for line in sys.stdin:
        count = int(line)
        started = time.process_time()
        post_purchases(client, headers, run, range(done, done + count))
        done += count
        print(f"{1000 * (time.process_time() - started) / count:.4f}", flush=True)


if __name__ == "__main__":
    serve_batches()
