"""Work started from several threads and released at the same moment, for the race tests (PostgreSQL)."""
import threading

JOIN_SECONDS = 120  # an upper bound for a stuck thread on a busy 2-core machine, not a performance target


def run_together(count: int, work) -> list:
    """Run `work(n, go)` for n in range(count), each on its own thread. Each calls `go()` once it is ready
    (client made, session open) and all go on from there together. Returns what each returned."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(n: int) -> None:
        results[n] = work(n, barrier.wait)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_SECONDS)
    assert not any(thread.is_alive() for thread in threads)
    return results
