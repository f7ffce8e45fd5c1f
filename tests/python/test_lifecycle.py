"""A lease's life across time, threads, processes and restarts: renewal in
a with block, a lost lease, release on error, pickling into a
ProcessPoolExecutor, fork, reconnecting, and the request_id retry."""

import concurrent.futures
import multiprocessing
import os
import pickle
import time

from harness import DEADLINE, DaemonTest, wait_until

from poolclient import Client, LeaseLost, NotFound
from poolclient._conn import Connection


def release_in_worker(lease):
    """Runs in a worker process: renews and releases a lease taken by the
    parent; returns the worker's pid."""
    lease.renew(ttl=300)
    lease.release(descriptor={"released_by": os.getpid()})
    return os.getpid()


class TestWith(DaemonTest):

    def test_renewal_keeps_a_lease_past_its_ttl(self):
        p = self.pool()
        with self.c.lease(p, ttl=1) as lease:
            first = lease.expires_at
            # Wait until the first expiry is well past (three TTLs).
            end = time.monotonic() + 3
            wait_until(lambda: time.monotonic() > end, what="three TTLs")
            self.assertFalse(lease.lost.is_set())
            self.assertGreater(lease.refresh().expires_at, first)
            self.assertEqual(self.occupancy(p)["leased"], 1)
        self.assertEqual(self.occupancy(p)["leased"], 0)
        self.assertEqual(self.occupancy(p)["counters"]["expired"], 0)

    def test_a_lost_lease_is_reported(self):
        p = self.pool()
        with self.assertRaises(LeaseLost) as cm:
            with self.c.lease(p, ttl=1) as lease:
                # Someone (an admin) takes the resource away.
                self.c.call("resource.remove", pool=p, name=lease.name,
                            force=True)
                wait_until(lease.lost.is_set, what="lease.lost")
        self.assertEqual(cm.exception.code, "not_found")
        self.assertEqual(cm.exception.lease, lease.id)
        self.assertIn(lease.id, str(cm.exception))

    def test_lost_at_the_end_of_the_block(self):
        p = self.pool()
        with self.assertRaises(LeaseLost):
            with self.c.lease(p, ttl=600) as lease:
                self.c.call("return", lease=lease.id)
        self.assertTrue(lease.lost.is_set())

    def test_an_exception_releases_the_lease(self):
        p = self.pool()
        with self.assertRaises(ZeroDivisionError):
            with self.c.lease(p) as lease:
                1 / 0
        got = self.c.call("resource.get", pool=p, name=lease.name)
        self.assertEqual(got["state"], "free")

    def test_discard_on_error(self):
        p = self.pool()
        with self.assertRaises(ZeroDivisionError):
            with self.c.lease(p, discard_on_error=True):
                1 / 0
        wait_until(lambda: self.occupancy(p)["total"] == 0,
                   what="the resource to be discarded")
        with self.c.lease(p, discard_on_error=True) as lease:
            pass
        self.assertEqual(self.c.call("resource.get", pool=p,
                                     name=lease.name)["state"], "free")

    def test_bind_connection(self):
        p = self.pool()
        with self.c.lease(p, bind="connection") as lease:
            self.assertEqual(self.occupancy(p)["leased"], 1)
            self.assertEqual(lease.refresh().owner.split()[-1],
                             "pid:%d" % os.getpid())
        self.assertEqual(self.occupancy(p)["leased"], 0)
        held = self.c.lease(p, bind="connection")
        with self.assertRaises(TypeError):
            pickle.dumps(held)
        held._pinned.close()  # as if the process died
        wait_until(lambda: self.occupancy(p)["leased"] == 0,
                   what="the bound lease to end with its connection")


class TestProcesses(DaemonTest):

    def test_lease_pickled_into_a_worker_and_released_there(self):
        p = self.pool(max_size=2)
        lease = self.c.lease(p, ttl=60)
        with concurrent.futures.ProcessPoolExecutor(1) as ex:
            pid = ex.submit(release_in_worker, lease).result(DEADLINE)
        self.assertNotEqual(pid, os.getpid())
        with self.assertRaises(NotFound):
            lease.refresh()
        got = self.c.call("resource.get", pool=p, name=lease.name)
        self.assertEqual(got["descriptor"], {"released_by": pid})
        self.assertEqual(self.occupancy(p)["leased"], 0)

    def test_connect_then_fork_8_workers(self):
        p = self.pool(max_size=3)
        self.c.ping()  # the parent's connection, inherited by every child
        ctx = multiprocessing.get_context("fork")
        procs = [ctx.Process(target=self._job, args=(p,)) for _ in range(8)]
        for proc in procs:
            proc.start()
        self.c.ping()  # the parent keeps using it meanwhile
        for proc in procs:
            proc.join(DEADLINE)
        self.assertEqual([proc.exitcode for proc in procs], [0] * 8)
        occ = self.occupancy(p)
        self.assertEqual((occ["leased"], occ["counters"]["leases"],
                          occ["counters"]["returns"]), (0, 8, 8))
        self.assertEqual(self.c.call("lease.list", pool=p)["leases"], [])

    def _job(self, pool):
        with self.c.lease(pool, wait=DEADLINE, ttl=DEADLINE) as lease:
            self.c.call("resource.get", pool=pool, name=lease.name)


class TestReconnect(DaemonTest):

    poold_args = ("--idle-timeout", "1")

    def test_reconnect_across_a_restart(self):
        p = self.pool()
        lease = self.c.lease(p, ttl=600)
        self.daemon.restart()
        self.assertEqual(self.c.status(p)["pools"][0]["leased"], 1)
        lease.release()

    def test_idle_connection_closed_by_poold(self):
        self.c.ping()
        closed = self.c.status()["daemon"]["idle_closed"]
        wait_until(lambda: Client(socket=self.daemon.sock).status()[
            "daemon"]["idle_closed"] > closed, what="an idle close")
        self.assertIn("version", self.c.ping())

    def test_lost_lease_answer_retried_with_its_request_id(self):
        """The answer to a lease is lost and the daemon restarts before the
        client retries: the retry gets the same lease, not a second one."""
        p = self.pool(max_size=5)
        original = Connection.answer
        daemon = self.daemon
        lost = []

        def lose_first_lease_answer(conn, rid, timeout):
            result = original(conn, rid, timeout)
            if not lost and "lease" in result:
                lost.append(result["lease"])
                daemon.restart()
                raise ConnectionResetError("answer lost (test)")
            return result

        Connection.answer = lose_first_lease_answer
        try:
            lease = self.c.lease(p, ttl=600)
        finally:
            Connection.answer = original
        self.assertEqual(lease.id, lost[0])
        occ = self.occupancy(p)
        self.assertEqual((occ["total"], occ["leased"]), (1, 1))
        self.assertEqual(len(self.c.call("lease.list", pool=p)["leases"]), 1)
        lease.release()

    def test_return_retried_after_a_lost_answer(self):
        p = self.pool()
        lease = self.c.lease(p)
        original = Connection.answer

        def lose_answer(conn, rid, timeout):
            original(conn, rid, timeout)
            Connection.answer = original
            raise ConnectionResetError("answer lost (test)")

        Connection.answer = lose_answer
        try:
            lease.release()  # retried: not_found means the first one did
        finally:
            Connection.answer = original
        self.assertEqual(self.occupancy(p)["leased"], 0)
