"""Starts the real poold for the Python tests, as tests/func/harness.c does:
a private temp dir with its socket and database, ready once ``ping``
answers, stopped with SIGTERM; its log is printed when a test failed and
checked for assertion failures.

The binary is $POOLD_BIN, else build/poold/poold of this tree.
poolclient is imported from libpool/python of this tree unless it is
importable already (e.g. installed).
"""

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Callable, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
sys.path.insert(0, os.path.join(ROOT, "libpool", "python"))

import poolclient  # noqa: E402

POOLD_BIN = os.environ.get("POOLD_BIN") or os.path.join(
    ROOT, "build", "poold", "poold")
DEADLINE = 60.0  # seconds; generous: CI runs on a loaded 2-core machine


def wait_until(cond: Callable[[], object], deadline: float = DEADLINE,
               what: str = "condition") -> object:
    """Polls ``cond`` until it returns something true; fails the test
    after ``deadline`` seconds. Never a timing assertion: a deadline."""
    end = time.monotonic() + deadline
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Daemon:
    """One poold in its own temp dir; ``start``/``stop``/``restart`` keep
    the socket and database, so a restart is the same daemon to clients."""

    def __init__(self, *extra: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="poold-py-")
        self.sock = os.path.join(self.dir, "poold.sock")
        self.db = os.path.join(self.dir, "poold.db")
        self.log_path = os.path.join(self.dir, "poold.log")
        self.extra: List[str] = list(extra)
        self.store: Optional[str] = None  # --store URL instead of --db
        self.proc: Optional[subprocess.Popen] = None
        self.bad_exits: List[int] = []  # exit codes of SIGTERMed runs != 0

    def start(self) -> "Daemon":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [POOLD_BIN, "--socket", self.sock] +
            (["--store", self.store] if self.store else ["--db", self.db]) +
            ["--log-level", "debug"] + self.extra,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        wait_until(self._answers, what="poold to answer ping")
        return self

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError("poold exited %s:\n%s" % (
                self.proc.returncode, self.log()))
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(DEADLINE)
                s.connect(self.sock)
                s.sendall(b'{"op":"ping"}\n')
                return b'"ok":true' in s.recv(4096)
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(sig)
        self.proc.wait(timeout=DEADLINE)
        if sig == signal.SIGTERM and self.proc.returncode != 0:
            self.bad_exits.append(self.proc.returncode)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8",
                      errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


_names = itertools.count(1)


class DaemonTest(unittest.TestCase):
    """A test class with one poold for all its tests (``poold_args`` are
    its extra flags) and ``self.c``, a Client of it."""

    poold_args: tuple = ()
    daemon: Daemon

    @classmethod
    def setUpClass(cls) -> None:
        cls.daemon = Daemon(*cls.poold_args).start()

    @classmethod
    def tearDownClass(cls) -> None:
        log = cls.daemon.log()
        cls.daemon.cleanup()
        if ("Assertion" in log or "runtime error" in log or
                "Sanitizer" in log or cls.daemon.bad_exits):
            raise AssertionError("poold failed (exit codes %s); its log:\n%s"
                                 % (cls.daemon.bad_exits, log[-4000:]))

    def setUp(self) -> None:
        self.c = poolclient.Client(socket=self.daemon.sock)
        self.addCleanup(self.c.close)

    def run(self, result=None):  # type: ignore[override]
        failures = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > failures:
            sys.stderr.write("---- poold log (end) ----\n%s\n" %
                             self.daemon.log()[-3000:])
        return out

    def pool(self, **settings: object) -> str:
        """Creates a fresh pool (a unique name) with ``settings``."""
        name = "p%d" % next(_names)
        self.c.call("pool.create", pool=name, **settings)
        return name

    def occupancy(self, pool: str) -> dict:
        """The pool's status entry."""
        return self.c.status(pool)["pools"][0]
