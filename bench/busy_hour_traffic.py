"""The busiest hour's traffic to the app, for `bench/busy_hour`: Twilio's signed webhooks, in a process of its own.

Run by bench/busy_hour (not by hand). Open loop: request n is due at start + n / rate whatever became of the
ones before, and its latency is counted from that moment, so a server that falls behind shows it.
- texts at --texts-per-second to /sms/inbound, a fixed mix (MIX): JOIN from new phones, BAL, a rating and a
  reply to the campaign from members, STOP from members whose campaign text is due in the next seconds (just
  ahead of the sending frontier, the highest member texted so far), so that opt-outs race the workers;
- one status callback (delivered) to /sms/status for every text the fake Twilio accepted, CALLBACK_DELAY after
  its answer: stdin gets a line "sid to arrival" (arrival: time.monotonic() at the fake) for each, "stop" at
  the end (no more texts; the callbacks fed before it still go).
Each request is signed as Twilio signs it, on a new connection (gunicorn's sync workers close each one).
Prints "ready"; when done writes to --out every request (kind, due, latency, HTTP status) and, per phone that
texted STOP, when its answer came (time.monotonic(): one clock with the fake's arrivals on Linux).
"""
from __future__ import annotations

import argparse
import asyncio
import heapq
import itertools
import json
import random
import sys
import threading
import time
from collections import deque
from pathlib import Path
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

sys.path.insert(0, str(Path(__file__).resolve().parent))
import campaign_bench  # noqa: E402

webhook = campaign_bench.load_webhook_bench()  # Twilio's fields of a text (text_form), the token, the public URL

CALLBACK_DELAY = 0.5  # seconds after the fake's answer (its latency later than the arrival) that Twilio reports
GIVE_UP_AFTER = 60  # seconds after the last callback was due: requests not answered by then are counted as lost
MAX_OPEN = 256  # connections at once; a request waiting for one is late, and its latency says so
# 20 slots a cycle: at 300 texts/s, 60 JOIN, 90 BAL, 15 STOP, 30 ratings, 105 replies to the campaign a second
MIX = ("join", "bal", "reply", "bal", "reply", "join", "rating", "reply", "bal", "stop",
       "join", "reply", "bal", "rating", "reply", "join", "bal", "reply", "bal", "reply")
BODIES = {
    "join": ("JOIN", "JOIN Ann", "入会", "JOIN Bo"),
    "bal": ("BAL", "BAL", "积分", "BAL"),
    "stop": ("STOP", "STOP", "TD", "stop"),
    "rating": ("5", "4", "5分", "2"),
    "reply": ("Is the offer on this Sunday too?", "Thanks! See you Saturday", "周末也有吗？", "what time do you open"),
}
STOP_AHEAD = (50, 600)  # a STOP comes from a member this many places past the frontier (0.25–3 s at 200/s)


class Traffic:
    def __init__(self, args):
        self.args = args
        self.host, _, port = args.url.removeprefix("http://").partition(":")
        self.port = int(port)
        self.validator = RequestValidator(webhook.AUTH_TOKEN)
        self.random = random.Random(args.seed)
        self.records: list[tuple] = []  # (kind, due, latency, status)
        self.stops_answered: dict[str, float] = {}
        self.frontier = 0  # the highest member index texted by the campaign so far
        self.callbacks: list[tuple[float, str, str]] = []  # heap of (due, sid, to)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sids = itertools.count()
        self.sid_prefix = f"{int(time.time()) & 0xFFFFFFF:07x}{args.run}"  # unique to this run and phase
        self.new_phones = itertools.count()

    # -- what arrives on stdin (a thread) --------------------------------------------------------

    def read_feed(self) -> None:
        for line in sys.stdin:
            if line.strip() == "stop":
                break
            sid, to, arrival = line.split()
            with self.lock:
                heapq.heappush(self.callbacks, (float(arrival) + self.args.latency + CALLBACK_DELAY, sid, to))
                if to.startswith(self.args.member_prefix):
                    self.frontier = max(self.frontier, int(to[len(self.args.member_prefix):]))
        self.stopping.set()

    # -- the requests ----------------------------------------------------------------------------

    def text(self, n: int) -> tuple[str, str, dict]:
        kind = MIX[n % len(MIX)]
        body = BODIES[kind][(n // len(MIX)) % 4]
        if kind == "join":
            phone = f"+1627{next(self.new_phones) + self.args.new_phones_from:07d}"
        elif kind == "stop" and self.frontier:
            phone = self.member(self.frontier + self.random.randint(*STOP_AHEAD))
        elif kind == "reply" and self.frontier:
            phone = self.member(self.random.randint(1, self.frontier))
        else:
            phone = self.member(self.random.randint(1, self.args.members))
        return kind, "/sms/inbound", webhook.text_form(f"SM{self.sid_prefix}{next(self.sids):024x}", phone, body)

    def member(self, index: int) -> str:
        return f"{self.args.member_prefix}{min(index, self.args.members):07d}"

    def status(self, sid: str, to: str) -> dict:
        return {
            "SmsSid": sid, "SmsStatus": "delivered", "MessageStatus": "delivered", "To": to, "MessageSid": sid,
            "AccountSid": webhook.ACCOUNT_SID, "From": webhook.MERCHANT_NUMBER, "ApiVersion": "2010-04-01",
        }

    async def post(self, kind: str, path: str, form: dict, due: float) -> None:
        body = urlencode(form).encode()
        signature = self.validator.compute_signature(webhook.PUBLIC_URL + path, form)
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: {signature}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        status = 0
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            writer.write(head + body)
            answer = await reader.read()
            writer.close()
            status = int(answer[9:12]) if answer.startswith(b"HTTP/1.") else 0
        except (OSError, ValueError):
            status = 0
        except asyncio.CancelledError:  # given up on at the end (GIVE_UP_AFTER): never answered
            self.records.append((kind, round(due, 4), None, -1))
            return
        done = time.monotonic()
        self.records.append((kind, round(due, 4), round(done - due, 5), status))
        if kind == "stop" and status == 200:
            self.stops_answered.setdefault(form["From"], done)

    async def run(self) -> None:
        """Start every request when due, or as soon as one of MAX_OPEN connections is free; on "stop", once the
        callbacks are due, wait up to GIVE_UP_AFTER for the rest, then count those as never answered."""
        waiting: deque = deque()  # (kind, path, form, due), due and not started
        running: set[asyncio.Task] = set()
        start, sent, given_up = time.monotonic(), 0, None
        rate = self.args.texts_per_second
        while True:
            now = time.monotonic()
            if not self.stopping.is_set() and rate:
                while start + sent / rate <= now:
                    waiting.append((*self.text(sent), start + sent / rate))
                    sent += 1
            with self.lock:
                while self.callbacks and self.callbacks[0][0] <= now:
                    due, sid, to = heapq.heappop(self.callbacks)
                    waiting.append(("status", "/sms/status", self.status(sid, to), due))
                left = len(self.callbacks)
            while waiting and len(running) < MAX_OPEN:
                task = asyncio.create_task(self.post(*waiting.popleft()))
                running.add(task)
                task.add_done_callback(running.discard)
            if self.stopping.is_set() and not left:
                if not waiting and not running:
                    return
                given_up = given_up or now + GIVE_UP_AFTER
                if now >= given_up:
                    self.records.extend((kind, round(due, 4), None, -1) for kind, _path, _form, due in waiting)
                    for task in list(running):
                        task.cancel()
                    await asyncio.gather(*running, return_exceptions=True)
                    return
            await asyncio.sleep(0.002)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("--url", "--member-prefix", "--out"):
        parser.add_argument(name, required=True)
    parser.add_argument("--texts-per-second", type=float, required=True)
    parser.add_argument("--members", type=int, required=True)
    parser.add_argument("--latency", type=float, required=True, help="the fake's answer time, seconds")
    parser.add_argument("--run", type=int, required=True, help="the phase: keeps its MessageSids apart (0-9)")
    parser.add_argument("--new-phones-from", type=int, required=True, help="JOIN from +1627 and this number on")
    parser.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args()
    traffic = Traffic(args)
    threading.Thread(target=traffic.read_feed, daemon=True).start()
    print("ready", flush=True)
    asyncio.run(traffic.run())
    with open(args.out, "w") as out:
        json.dump({"requests": traffic.records, "stops_answered": traffic.stops_answered}, out)


if __name__ == "__main__":
    main()
