#!/usr/bin/env python3
"""A million jobs through a ProcessPoolExecutor in bounded memory.

Executor.submit never blocks: a loop that submits a million jobs queues a
million futures (and their arguments) at once. Here every job first takes a
slot, a lease of the pool "slots" (max_size = --slots), asking poold to wait
for one: while all slots are taken the loop waits in poold's FIFO line, and
a slot goes back when its job's future is done. A `busy` answer (the
pool's waiter line is full, e.g. of other submitters) is backpressure too:
back off and try again. At most --slots jobs exist at any time, so memory
stays flat however many jobs there are.

    bounded_submit.py [--socket PATH] [--jobs N] [--slots K] [--workers W]
"""

import argparse
import concurrent.futures as cf
import resource
import threading
import time

from poolclient import Busy, Client, Exists


def square(n):
    """The job: a stand-in for real work."""
    return n * n


class Tally:
    """What the done-callbacks add up (they run on the executor's thread)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.total = self.done = self.in_flight = self.max_in_flight = 0

    def started(self):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def finished(self, slot, future):
        try:
            with self.lock:
                self.in_flight -= 1
                self.done += 1
                self.total += future.result()
        finally:
            slot.release()


def take_slot(client, pool):
    """A slot lease, waiting for one; `busy` means back off and retry."""
    delay = 0.01
    while True:
        try:
            return client.lease(pool, wait=600, ttl=600)
        except Busy:
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--socket", help="poold's socket (default: poold's)")
    ap.add_argument("--jobs", type=int, default=1000000)
    ap.add_argument("--slots", type=int, default=16)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--pool", default="slots")
    args = ap.parse_args()
    client = Client(socket=args.socket)
    try:
        client.call("pool.create", pool=args.pool, max_size=args.slots)
    except Exists:
        pass
    tally = Tally()
    with cf.ProcessPoolExecutor(args.workers) as ex:
        for n in range(args.jobs):
            slot = take_slot(client, args.pool)
            tally.started()
            ex.submit(square, n).add_done_callback(
                lambda f, slot=slot: tally.finished(slot, f))
    n = args.jobs
    expected = (n - 1) * n * (2 * n - 1) // 6
    print("jobs: %d done, sum of squares %s (%s), at most %d in flight "
          "(slots: %d), max RSS %d MiB" % (
              tally.done, tally.total,
              "right" if tally.total == expected else "WRONG",
              tally.max_in_flight, args.slots,
              resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024))
    return 0 if tally.total == expected and tally.done == n else 1


if __name__ == "__main__":
    raise SystemExit(main())
