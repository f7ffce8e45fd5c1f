"""Several front ends (docs/ha.md): a Client given "standby,leader" is
served by the leader; one given only the standby sees NotLeader; a lease
waiting on the leader (sync ``with c.lease(...)`` and asyncio) keeps
waiting across a SIGKILL of the leader and is granted by the new one.
Needs PostgreSQL: run under scripts/pg-test.sh (POOL_TEST_STORE); skipped
otherwise."""

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import unittest
from typing import Any, List

from harness import Daemon, wait_until

import poolclient
import poolclient.aio

STORE = os.environ.get("POOL_TEST_STORE", "")


def _psql(sql: str) -> None:
    subprocess.run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", STORE, "-c",
                    "SET client_min_messages = warning", "-c", sql],
                   check=True, stdout=subprocess.DEVNULL)


def _role(d: Daemon) -> str:
    try:
        with poolclient.Client(socket=d.sock, reconnect=0) as c:
            return str(c.status().get("ha", {}).get("role", ""))
    except poolclient.PoolError:
        return ""


@unittest.skipUnless(STORE, "needs PostgreSQL: run under scripts/pg-test.sh")
class FollowTest(unittest.TestCase):
    """A leader A and a standby B on one fresh schema, pool p with one
    resource r1 (max_size 1)."""

    def setUp(self) -> None:
        self.schema = "py_" + os.path.basename(tempfile.mkdtemp(
            prefix="f", dir=self._tmp())).lower()
        _psql("DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s"
              % (self.schema, self.schema))
        url = "%s%soptions=-csearch_path%%3D%s" % (
            STORE, "&" if "?" in STORE else "?", self.schema)
        self.a = self._daemon(url)
        wait_until(lambda: _role(self.a) == "leader", what="A to lead")
        self.b = self._daemon(url)
        self.assertEqual(_role(self.b), "standby")
        with poolclient.Client(socket=self.a.sock) as c:
            c.call("pool.create", pool="p", max_size=1)
            c.call("resource.add", pool="p",
                   resources=[{"name": "r1", "descriptor": {}}])

    def _tmp(self) -> str:
        d = tempfile.mkdtemp(prefix="poold-py-follow-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def _daemon(self, url: str) -> Daemon:
        d = Daemon("--failover-timeout", "1")
        d.store = url
        d.start()
        self.addCleanup(d.cleanup)
        return d

    def tearDown(self) -> None:
        for d in (self.b, self.a):
            d.stop()
        _psql("DROP SCHEMA IF EXISTS %s CASCADE" % self.schema)

    def _waiters(self, d: Daemon) -> int:
        with poolclient.Client(socket=d.sock) as c:
            return int(c.status("p")["pools"][0]["waiters"])

    def test_client_follows_not_leader(self) -> None:
        with poolclient.Client(socket=self.b.sock) as c:
            with self.assertRaises(poolclient.NotLeader) as cm:
                c.lease("p")
            self.assertEqual(cm.exception.leader, "unix:" + self.a.sock)
        with poolclient.Client(socket="%s,%s" % (self.b.sock,
                                                 self.a.sock)) as c:
            with c.lease("p") as lease:
                self.assertEqual(lease.name, "r1")
            self.assertEqual(c.status("p")["pools"][0]["free"], 1)

    def _fail_over(self, held: str) -> None:
        """SIGKILLs A once its waiter waits; B takes over, sees the waiter
        come back, and the held lease is returned there."""
        wait_until(lambda: self._waiters(self.a) == 1, what="a waiter on A")
        self.a.stop(signal.SIGKILL)
        wait_until(lambda: _role(self.b) == "leader", what="B to lead")
        wait_until(lambda: self._waiters(self.b) == 1,
                   what="the waiter to come back to B")
        with poolclient.Client(socket=self.b.sock) as c:
            c.call("return", lease=held)

    def test_waiting_lease_survives_failover(self) -> None:
        held = poolclient.Client(socket=self.a.sock).lease("p")
        got: List[Any] = []

        def wait_for_it() -> None:
            c = poolclient.Client(socket=[self.a.sock, self.b.sock])
            try:
                with c.lease("p", wait=300) as lease:
                    got.append((lease.name, lease.token))
            except Exception as e:  # reported by the assertions below
                got.append(e)

        t = threading.Thread(target=wait_for_it)
        t.start()
        self._fail_over(held.id)
        t.join(60)
        self.assertFalse(t.is_alive())
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0][0], "r1")
        self.assertGreater(got[0][1], held.token)

    def test_aio_waiting_lease_survives_failover(self) -> None:
        held = poolclient.Client(socket=self.a.sock).lease("p")

        async def wait_for_it() -> Any:
            c = poolclient.aio.Client(socket="%s,%s" % (self.a.sock,
                                                         self.b.sock))
            try:
                async with c.lease("p", wait=300) as lease:
                    return lease.name, lease.token
            finally:
                await c.close()

        loop = asyncio.new_event_loop()
        task = loop.create_task(wait_for_it())
        t = threading.Thread(target=loop.run_until_complete, args=(task,))
        t.start()
        self._fail_over(held.id)
        t.join(60)
        self.assertFalse(t.is_alive())
        loop.close()
        name, token = task.result()
        self.assertEqual(name, "r1")
        self.assertGreater(token, held.token)


if __name__ == "__main__":
    unittest.main()
