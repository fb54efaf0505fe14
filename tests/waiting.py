"""Waiting for another process (a server, a worker, the scheduler) to do something, with an upper bound."""
import time

WAIT_SECONDS = 180  # an upper bound on start-up and delivery on a busy 2-core machine, not a performance target


def wait_for(condition, what: str):
    """Poll `condition` until it returns something true; fail with `what` after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")
