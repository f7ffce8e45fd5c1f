"""poolclient.aio against the real poold: the same surface with
coroutines, the async with block, watch, pickling, the request_id retry."""

import asyncio
import pickle
import time
import unittest

from harness import DEADLINE, DaemonTest, wait_until

from poolclient import Conflict, Exhausted, LeaseLost, NotFound, Timeout
from poolclient import aio


class TestAio(DaemonTest, unittest.IsolatedAsyncioTestCase):

    async def asyncSetUp(self):
        self.a = aio.Client(socket=self.daemon.sock)

    async def asyncTearDown(self):
        await self.a.close()

    async def test_lease_release_and_errors(self):
        p = self.pool(max_size=1)
        lease = await self.a.lease(p, ttl=60, owner="async job")
        self.assertEqual((lease.pool, lease.owner, lease.version),
                         (p, "async job", 2))
        with self.assertRaises(Exhausted):
            await self.a.lease(p)
        with self.assertRaises(Timeout):
            await self.a.lease(p, wait=0.1)
        self.assertIsNotNone(await lease.renew(ttl=120))
        self.assertEqual((await lease.refresh()).ttl, 120)
        await lease.release(descriptor={"n": 1})
        with self.assertRaises(NotFound):
            await lease.renew()
        got = await self.a.call("resource.get", pool=p, name=lease.name)
        self.assertEqual(got["descriptor"], {"n": 1})

    async def test_a_waiting_lease_does_not_block_other_requests(self):
        p = self.pool(max_size=1)
        held = await self.a.lease(p)
        waiter = asyncio.ensure_future(self.a.lease(p, wait=DEADLINE))
        while (await self.a.status(p))["pools"][0]["waiters"] != 1:
            await asyncio.sleep(0.02)
        await held.release()
        got = await waiter
        self.assertEqual(got.name, held.name)
        await got.release()

    async def test_async_with_renews_and_releases(self):
        p = self.pool()
        async with self.a.lease(p, ttl=1) as lease:
            first = lease.expires_at
            end = time.monotonic() + 3
            while time.monotonic() < end:  # three TTLs
                await asyncio.sleep(0.1)
            self.assertFalse(lease.lost.is_set())
            self.assertGreater((await lease.refresh()).expires_at, first)
        self.assertEqual(self.occupancy(p)["leased"], 0)
        with self.assertRaises(ZeroDivisionError):
            async with self.a.lease(p, discard_on_error=True):
                1 / 0
        wait_until(lambda: self.occupancy(p)["total"] == 0,
                   what="the discarded resource to go")

    async def test_lost_lease(self):
        p = self.pool()
        with self.assertRaises(LeaseLost) as cm:
            async with self.a.lease(p, ttl=1) as lease:
                await self.a.call("resource.remove", pool=p, name=lease.name,
                                  force=True)
                await asyncio.wait_for(lease.lost.wait(), DEADLINE)
        self.assertEqual(cm.exception.code, "not_found")

    async def test_checkout_replace_checkin(self):
        p = self.pool()
        k = await self.a.checkout(p)
        v = await k.replace({"x": 1})
        self.assertEqual(k.version, v)
        stale = pickle.loads(pickle.dumps(k))
        await k.replace({"x": 2})
        with self.assertRaises(Conflict):
            await stale.replace({"x": 3})
        await k.checkin({"x": 4})
        got = await self.a.call("resource.get", pool=p, name=k.name)
        self.assertEqual((got["state"], got["descriptor"]), ("free", {"x": 4}))

    async def test_watch_status_pools_ping(self):
        p = self.pool()
        w = await self.a.watch(p)
        async with self.a.lease(p):
            pass
        kinds = []
        async for event in w:
            kinds.append(event["event"])
            if event["event"] == "returned":
                break
        await w.close()
        self.assertEqual(kinds, ["created", "leased", "returned"])
        self.assertIn(p, [x["name"] for x in await self.a.pools()])
        self.assertIn("version", await self.a.ping())

    async def test_history(self):
        # Needs the history op (the history branch).
        p = self.pool()
        for _ in range(2):
            await (await self.a.lease(p)).release()
        kinds = [e["event"] async for e in self.a.history(pool=p, limit=1)]
        self.assertEqual(kinds.count("returned"), 2)

    async def test_reconnect_across_a_restart(self):
        p = self.pool()
        lease = await self.a.lease(p, ttl=600)
        self.daemon.restart()
        self.assertEqual((await self.a.status(p))["pools"][0]["leased"], 1)
        await lease.release()

    async def test_lost_lease_answer_retried_with_its_request_id(self):
        p = self.pool(max_size=5)
        original = aio._Conn.request
        lost = []

        async def lose_first_lease_answer(conn, msg, timeout):
            result = await original(conn, msg, timeout)
            if not lost and msg.get("op") == "lease":
                lost.append(result["lease"])
                raise ConnectionResetError("answer lost (test)")
            return result

        aio._Conn.request = lose_first_lease_answer
        try:
            lease = await self.a.lease(p)
        finally:
            aio._Conn.request = original
        self.assertEqual(lease.id, lost[0])
        occ = self.occupancy(p)
        self.assertEqual((occ["total"], occ["leased"]), (1, 1))
        await lease.release()
