"""poolclient against the real poold: every method of Client and Lease, and
every exception class raised from its protocol code."""

import os
import pickle
import subprocess
import threading
import unittest

from harness import DEADLINE, Daemon, DaemonTest, free_port, wait_until

from poolclient import (BadRequest, Busy, Client, Conflict, CreateFailed,
                        Draining, Exhausted, Exists, Expired, Forbidden,
                        Internal, Lease, NotFound, NotLeader, PoolError,
                        ProtocolError, Timeout, TooLarge, UnknownOp,
                        Unreachable)
from poolclient.errors import error_from_wire


class TestMethods(DaemonTest):

    def test_lease_fields_and_release(self):
        p = self.pool(max_size=2)
        lease = self.c.lease(p, ttl=600, owner="job 7")
        self.assertIsInstance(lease, Lease)
        self.assertEqual(len(lease.id), 32)
        self.assertEqual(lease.pool, p)
        self.assertEqual(lease.mode, "pop")
        self.assertEqual(lease.descriptor, {"name": lease.name})
        self.assertEqual(lease.resource["state"], "leased")
        self.assertEqual(lease.version, 2)
        self.assertGreater(lease.token, 0)
        self.assertEqual(lease.owner, "job 7")
        self.assertTrue(lease.expires_at.endswith("Z"))
        self.assertEqual(self.occupancy(p)["leased"], 1)
        lease.release(descriptor={"name": lease.name, "used": True})
        got = self.c.call("resource.get", pool=p, name=lease.name)
        self.assertEqual(got["state"], "free")
        self.assertEqual(got["descriptor"]["used"], True)
        with self.assertRaises(NotFound):
            lease.renew()

    def test_default_owner(self):
        p = self.pool()
        lease = self.c.lease(p)
        self.assertEqual(lease.owner, "%s pid:%d" % (os.uname().nodename,
                                                     os.getpid()))
        lease.release()

    def test_release_discard(self):
        p = self.pool()
        lease = self.c.lease(p)
        lease.release(discard=True)
        wait_until(lambda: self.occupancy(p)["total"] == 0,
                   what="the discarded resource to be destroyed")

    def test_renew_and_refresh(self):
        p = self.pool()
        lease = self.c.lease(p, ttl=100)
        self.assertEqual(lease.ttl, 100)
        expires = lease.renew(ttl=5000)
        self.assertEqual(expires, lease.expires_at)
        self.assertEqual(lease.ttl, 5000)
        self.assertEqual(lease.refresh().expires_at, expires)
        lease.release()

    def test_checkout_replace_checkin(self):
        p = self.pool()
        self.c.call("resource.add", pool=p, resources=[
            {"name": "a", "descriptor": {"zone": "x"}},
            {"name": "b", "descriptor": {"zone": "y"}}])
        k = self.c.checkout(p, match={"zone": "y"})
        self.assertEqual((k.mode, k.name), ("checkout", "b"))
        v = k.version
        self.assertEqual(k.replace({"zone": "y", "n": 1}), v + 1)
        self.assertEqual(k.version, v + 1)
        self.assertEqual(k.descriptor, {"zone": "y", "n": 1})
        k.checkin({"zone": "y", "n": 2})
        got = self.c.call("resource.get", pool=p, name="b")
        self.assertEqual((got["state"], got["descriptor"]["n"]), ("free", 2))
        named = self.c.checkout(p, name="a", ttl=60)
        self.assertEqual(named.name, "a")
        named.checkin(discard=True)

    def test_replace_stale_version_is_conflict(self):
        p = self.pool()
        k = self.c.checkout(p)
        other = pickle.loads(pickle.dumps(k))
        other.replace({"by": "other"})
        with self.assertRaises(Conflict) as cm:
            k.replace({"by": "me"})
        self.assertEqual(cm.exception.code, "conflict")
        k.checkin()

    def test_call_status_pools_ping(self):
        p = self.pool(max_size=3)
        self.assertEqual(self.c.call("pool.get", pool=p)["max_size"], 3)
        self.assertIn(p, [x["name"] for x in self.c.pools()])
        status = self.c.status(p)
        self.assertEqual([x["pool"] for x in status["pools"]], [p])
        self.assertIn("daemon", self.c.status())
        self.assertIn("version", self.c.ping())

    def test_watch(self):
        p = self.pool()
        with self.c.watch(p) as w:
            lease = self.c.lease(p)
            lease.release()
            seen = []
            while "returned" not in seen:
                event = w.get(timeout=DEADLINE)
                self.assertIsNotNone(event, "no event within the deadline")
                self.assertEqual(event["pool"], p)
                seen.append(event["event"])
            self.assertIn("leased", seen)

    def test_history_follows_pages(self):
        # Needs the history op (the history branch); see docs/python.md.
        p = self.pool()
        for _ in range(3):
            self.c.lease(p).release()
        page = self.c.history_page(pool=p, limit=2)
        self.assertEqual(len(page["events"]), 2)
        self.assertIsNotNone(page["next"])
        events = list(self.c.history(pool=p, limit=2))
        kinds = [e["event"] for e in events]
        self.assertEqual(kinds.count("leased"), 3)
        self.assertEqual(kinds.count("returned"), 3)
        seqs = [e["seq"] for e in events]
        self.assertEqual(seqs, sorted(set(seqs)))

    def test_threads_share_a_client(self):
        p = self.pool(max_size=3)
        errors = []

        def worker():
            try:
                for _ in range(10):
                    with self.c.lease(p, wait=DEADLINE):
                        pass
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        occ = self.occupancy(p)
        self.assertEqual((occ["leased"], occ["counters"]["returns"]), (0, 80))
        self.assertLessEqual(occ["total"], 3)

    def test_client_pickles_as_its_address(self):
        c2 = pickle.loads(pickle.dumps(self.c))
        self.assertEqual(c2.address, self.c.address)
        self.assertIn("version", c2.ping())
        self.assertNotIn(b"socket.socket", pickle.dumps(self.c))

    def test_default_socket_from_environment(self):
        old = os.environ.get("POOLD_SOCKET")
        os.environ["POOLD_SOCKET"] = self.daemon.sock
        try:
            self.assertIn("version", Client().ping())
        finally:
            if old is None:
                del os.environ["POOLD_SOCKET"]
            else:
                os.environ["POOLD_SOCKET"] = old


class TestErrors(DaemonTest):
    """Each exception class, raised by the daemon's answer with its code."""

    poold_args = ("--max-line", "65536")

    def test_bad_request(self):
        with self.assertRaises(BadRequest) as cm:
            self.c.call("lease", pool="x", tll=600)
        self.assertIn("tll", cm.exception.message)
        self.assertEqual(cm.exception.code, "bad_request")

    def test_unknown_op(self):
        with self.assertRaises(UnknownOp):
            self.c.call("lease.steal")

    def test_too_large(self):
        with self.assertRaises(TooLarge):
            self.c.call("ping", pad="x" * 70000)
        self.assertIn("version", self.c.ping())  # reconnected

    def test_not_found_and_exists(self):
        with self.assertRaises(NotFound):
            self.c.lease("no-such-pool")
        p = self.pool()
        with self.assertRaises(Exists):
            self.c.call("pool.create", pool=p)

    def test_exhausted_timeout_busy(self):
        p = self.pool(max_size=1, max_waiters=1)
        held = self.c.lease(p)
        with self.assertRaises(Exhausted):
            self.c.lease(p)
        with self.assertRaises(Timeout):
            self.c.lease(p, wait=0.2)
        waiter = threading.Thread(target=self._lease_expecting_timeout,
                                  args=(p,))
        waiter.start()
        wait_until(lambda: self.occupancy(p)["waiters"] == 1,
                   what="one waiter")
        with self.assertRaises(Busy):
            self.c.lease(p, wait=1)
        held.release()
        waiter.join()

    def _lease_expecting_timeout(self, pool):
        # Gets the resource released above, or times out: both fine.
        try:
            Client(socket=self.daemon.sock).lease(pool, wait=DEADLINE).release()
        except Timeout:
            pass

    def test_expired(self):
        p = self.pool()
        lease = self.c.lease(p, ttl=0.1)
        wait_until(lambda: self.occupancy(p)["leased"] == 0,
                   what="the lease to expire")
        with self.assertRaises(Expired):
            lease.renew()

    def test_draining_and_conflict(self):
        p = self.pool()
        self.c.lease(p)
        with self.assertRaises(Conflict):
            self.c.call("pool.delete", pool=p)
        self.c.call("pool.drain", pool=p)
        with self.assertRaises(Draining):
            self.c.lease(p)

    def test_create_failed(self):
        p = self.pool(create={"cmd": ["/bin/false"], "timeout": 30})
        with self.assertRaises(CreateFailed):
            self.c.lease(p)

    def test_internal_when_poold_stops_under_a_waiter(self):
        p = self.pool(max_size=1)
        self.c.lease(p, ttl=0)
        got = []

        def waiter():
            try:
                Client(socket=self.daemon.sock, reconnect=0).lease(
                    p, wait=DEADLINE)
            except PoolError as e:
                got.append(e)

        t = threading.Thread(target=waiter)
        t.start()
        wait_until(lambda: self.occupancy(p)["waiters"] == 1,
                   what="one waiter")
        self.daemon.restart()
        t.join()
        self.assertEqual([type(e) for e in got], [Internal])

    def test_unreachable(self):
        c = Client(socket=self.daemon.dir + "/nothing.sock", reconnect=0.2)
        with self.assertRaises(Unreachable) as cm:
            c.ping()
        self.assertIn("nothing.sock", cm.exception.message)

    def test_every_code_maps_to_its_class(self):
        table = {"bad_request": BadRequest, "unknown_op": UnknownOp,
                 "too_large": TooLarge, "not_found": NotFound,
                 "exists": Exists, "conflict": Conflict,
                 "exhausted": Exhausted, "timeout": Timeout, "busy": Busy,
                 "expired": Expired, "forbidden": Forbidden,
                 "draining": Draining, "create_failed": CreateFailed,
                 "internal": Internal, "not_leader": NotLeader}
        for code, cls in table.items():
            e = error_from_wire({"code": code, "message": "m"})
            self.assertIs(type(e), cls)
            self.assertEqual((e.code, e.message), (code, "m"))
            back = pickle.loads(pickle.dumps(e))
            self.assertEqual((type(back), back.code, back.message),
                             (cls, code, "m"))
        e = error_from_wire({"code": "not_leader", "message": "standby",
                             "leader": "10.0.0.2:7411"})
        self.assertEqual(e.leader, "10.0.0.2:7411")
        e = error_from_wire({"code": "from_the_future", "message": "?"})
        self.assertIs(type(e), PoolError)
        self.assertEqual(e.code, "from_the_future")
        self.assertIsInstance(error_from_wire("junk"), ProtocolError)
        self.assertTrue(issubclass(Timeout, PoolError) and
                        not issubclass(Timeout, Exhausted) and
                        not issubclass(Exhausted, Timeout))


class TestTcp(unittest.TestCase):
    """Client(tcp=...) says hello with its token; a non-admin token is
    Forbidden an admin op; a wrong token is Forbidden at once."""

    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        tokens = Daemon().dir + "/tokens"
        with open(tokens, "w") as f:
            f.write("alice alice-secret-token-0001 admin\n"
                    "bob bob-secret-token-000002\n")
        os.chmod(tokens, 0o600)
        cls.daemon = Daemon("--listen", "127.0.0.1:%d" % cls.port,
                            "--tokens", tokens).start()
        cls.tcp = "127.0.0.1:%d" % cls.port

    @classmethod
    def tearDownClass(cls):
        cls.daemon.cleanup()

    def test_tokens(self):
        alice = Client(tcp=self.tcp, token="alice-secret-token-0001")
        self.assertEqual(alice.call("hello")["caller"], "alice")
        alice.call("pool.create", pool="t", max_size=2)
        old = os.environ.get("POOLD_TOKEN")
        os.environ["POOLD_TOKEN"] = "bob-secret-token-000002"
        try:
            bob = Client(tcp=self.tcp)
        finally:
            if old is None:
                del os.environ["POOLD_TOKEN"]
            else:
                os.environ["POOLD_TOKEN"] = old
        with bob.lease("t") as lease:
            self.assertEqual(lease.owner.split()[-1], "pid:%d" % os.getpid())
            with self.assertRaises(Forbidden):
                bob.call("pool.delete", pool="t", force=True)
            mine = alice.lease("t")
            with self.assertRaises(Forbidden):
                bob.call("renew", lease=mine.id)
            mine.release()
        with self.assertRaises(Forbidden):
            Client(tcp=self.tcp, token="nope-nope-nope-nope").ping()
        self.assertEqual(alice.status("t")["pools"][0]["leased"], 0)


class TestTls(unittest.TestCase):
    """Client(tcp=..., tls=CAFILE) checks poold's certificate, then says
    hello inside TLS."""

    def test_tls(self):
        d = Daemon()
        self.addCleanup(d.cleanup)
        cert, key, tokens = d.dir + "/cert.pem", d.dir + "/key.pem", \
            d.dir + "/tokens"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                        "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=IP:127.0.0.1"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(tokens, "w") as f:
            f.write("carol carol-secret-token-003 admin\n")
        os.chmod(tokens, 0o600)
        tcp = "127.0.0.1:%d" % free_port()
        d.extra = ["--listen", tcp, "--tokens", tokens, "--tls-cert", cert,
                   "--tls-key", key]
        d.start()
        c = Client(tcp=tcp, token="carol-secret-token-003", tls=cert)
        self.assertEqual(c.call("hello")["caller"], "carol")
        c.call("pool.create", pool="s")
        with c.lease("s") as lease:
            self.assertEqual(lease.pool, "s")
        untrusted = Client(tcp=tcp, token="carol-secret-token-003", tls=True)
        with self.assertRaises(Unreachable) as cm:
            untrusted.ping()
        self.assertIn("CA", cm.exception.message)
        c.close()


if __name__ == "__main__":
    unittest.main()
