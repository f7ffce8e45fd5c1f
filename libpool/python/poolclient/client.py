"""The synchronous client: a :class:`Client` keeps a few connections to one
poold and lends one to each request, so threads share it safely and a
request that waits (``lease`` with ``wait``) never blocks another thread's.

Reconnecting is the client's job, not the caller's: a connection poold
closed while idle is noticed before it is used; one that breaks during a
request is replaced and the request retried when that is safe: reads and
``renew`` always, ``lease``/``checkout`` with the same ``request_id`` (so a
lost answer never costs a second resource), ``return``/``checkin`` taking
``not_found`` on the retry as done. After ``fork()`` the child drops the
parent's connections (a pid check) and opens its own.
"""

import os
import socket as _socket
import ssl
import threading
import time
import uuid
from typing import (Any, Dict, Iterator, List, Optional, Tuple, Union)

from ._conn import (Address, Connection, Endpoints, Follow, close_all,
                    make_address)
from .errors import (Conflict, NotFound, NotLeader, PoolError, ProtocolError,
                     Unreachable)
from .lease import Lease
from .watch import Watch

__all__ = ["Client"]

# Ops whose retry after a lost answer changes nothing.
_RETRY_SAFE = frozenset((
    "ping", "hello", "pool.get", "pool.list", "resource.get", "resource.list",
    "lease.get", "lease.list", "status", "history", "renew"))
# Ops made idempotent by their request_id.
_RETRY_KEYED = frozenset(("lease", "checkout"))
# Ops that end a lease: a retry answered not_found means the first one did.
_RETRY_ENDING = frozenset(("return", "checkin"))

# not_leader answers followed in one search for the leader.
_MAX_HOPS = 64
# not_leader hops to a named leader in a row without a pause.
_QUICK_HOPS = 2


class Retry:
    """The bounds of one request's retries: ``reconnect`` seconds of
    looking for a daemon that answers, counted from the first failure in a
    row (and anew when a request had been with a daemon that long: a
    waiter across a failover); at most _MAX_HOPS tries; a pause doubling
    from 50 ms to 1 s, so it never spins; and the ``wait`` that is left,
    so that a retried lease never waits longer than asked in all. Shared
    by the sync and asyncio clients."""

    def __init__(self, reconnect: float, msg: Dict[str, Any]) -> None:
        self.reconnect = reconnect
        self.start = time.monotonic()
        self.wait = float(msg.get("wait") or 0)
        self.began = self.start
        self.deadline: Optional[float] = None
        self.delay = 0.05
        self.hops = 0
        self.quick = 0
        self.retried = False
        self.tries = 0

    def next_msg(self, msg: Dict[str, Any]) -> Dict[str, Any]:
        """msg for the next try, with the wait that is left."""
        self.began = time.monotonic()
        self.tries += 1
        if self.tries == 1 or not self.wait:
            return msg
        return dict(msg, wait=max(self.wait - (self.began - self.start),
                                  0.001))

    def pause(self, quick: bool, lost: bool = False) -> Optional[float]:
        """Seconds to sleep before the next try (0: at once), or None when
        out of time or tries. lost: the request went and its answer did
        not come."""
        now = time.monotonic()
        self.retried = self.retried or lost
        if self.deadline is None or now - self.began >= self.reconnect:
            self.deadline = now + self.reconnect
            self.hops = 0
        self.hops += 1
        if self.hops > _MAX_HOPS:
            return None
        if quick and self.quick < _QUICK_HOPS:
            self.quick += 1
            return 0.0
        self.quick = 0
        delay = self.delay
        if now + delay > self.deadline:
            return None
        self.delay = min(self.delay * 2, 1.0)
        return delay


# How long poold may take on a lease that creates a resource through a
# command: the contract's default create timeout.
_CREATE_ALLOWANCE = 600.0
_MAX_IDLE_CONNS = 8

_shared_lock = threading.Lock()
_shared: Dict[Tuple[Any, ...], "Client"] = {}
_shared_pid = os.getpid()


def _reset_shared_after_fork() -> None:
    # Another thread may have held the lock at fork(); the child's copy
    # would stay locked forever.
    global _shared_lock
    _shared_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_shared_after_fork)


def default_owner() -> str:
    """The owner label of leases taken without one: ``"HOSTNAME pid:N"``."""
    return "%s pid:%d" % (_socket.gethostname(), os.getpid())


def _restore_client(address: Address, timeout: Optional[float],
                    reconnect: float) -> "Client":
    """Unpickles a Client: one shared Client per address in each process,
    so every lease unpickled in a worker uses the same connections."""
    global _shared_pid
    key = (address, timeout, reconnect)
    with _shared_lock:
        if _shared_pid != os.getpid():
            _shared.clear()
            _shared_pid = os.getpid()
        client = _shared.get(key)
        if client is None:
            client = Client(socket=address.socket, tcp=address.tcp,
                            token=address.token, tls=address.tls,
                            timeout=timeout, reconnect=reconnect)
            _shared[key] = client
        return client


class Client:
    """A client of one poold.

    ``Client()`` connects to ``$POOLD_SOCKET``, else poold's default socket;
    ``Client(socket=PATH)`` to a Unix socket; ``Client(tcp="host:port",
    token=None)`` over TCP, introducing itself with ``token`` (else
    ``$POOLD_TOKEN``); ``tls=True`` (system CAs) or ``tls="ca.pem"`` wraps
    that in TLS.

    Several front ends of one cluster (docs/ha.md): ``socket="a,b"``,
    ``tcp="h1:7411,h2:7411"`` or a list; a standby's ``not_leader`` sends
    the request to the leader it names (else to the next one), so only a
    client given one endpoint ever sees :class:`NotLeader`.

    ``timeout`` bounds the wait for an answer (``lease``/``checkout`` add
    their ``wait`` and 600 s for a create command); ``reconnect`` is how
    long a broken or refused connection (or a cluster without a leader) is
    retried before :class:`Unreachable` is raised. Connections are opened
    on first use.
    """

    def __init__(self, socket: Endpoints = None, *,
                 tcp: Endpoints = None, token: Optional[str] = None,
                 tls: Union[bool, str] = False,
                 timeout: Optional[float] = 60.0,
                 reconnect: float = 15.0) -> None:
        self.address = make_address(socket, tcp, token, tls)
        self._follow = Follow(self.address)
        self.timeout = timeout
        self.reconnect = reconnect
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._idle: List[Connection] = []

    def __repr__(self) -> str:
        return "Client(%s)" % self.address.describe()

    def __reduce__(self):  # type: ignore[override]
        # Only the address crosses a process, never a socket.
        return (_restore_client, (self.address, self.timeout, self.reconnect))

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if self._pid == os.getpid():
                close_all(self._idle)
        except Exception:  # half-built, or the interpreter is exiting
            pass

    def close(self) -> None:
        """Closes the idle connections; the client stays usable."""
        self._after_fork()
        with self._lock:
            close_all(self._idle)

    # ---- connections ------------------------------------------------------

    def _after_fork(self) -> None:
        # A child must never write on its parent's sockets: their answers
        # would go to whichever process reads first. It also gets a fresh
        # lock, which another thread of the parent may have held.
        if self._pid != os.getpid():
            inherited = self._idle
            self._pid = os.getpid()
            self._lock = threading.Lock()
            self._idle = []
            close_all(inherited)

    def _connect(self) -> Connection:
        return Connection(self._follow.current, self.timeout)

    def _acquire(self) -> Connection:
        self._after_fork()
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.stale():
                    return conn
                conn.close()
        return self._connect()

    def _release(self, conn: Connection) -> None:
        self._after_fork()
        if conn.pid != os.getpid():
            conn.close()
            return
        with self._lock:
            if len(self._idle) < _MAX_IDLE_CONNS:
                self._idle.append(conn)
                return
        conn.close()

    # ---- requests ---------------------------------------------------------

    def _timeout_for(self, msg: Dict[str, Any]) -> Optional[float]:
        if self.timeout is None:
            return None
        if msg.get("op") in _RETRY_KEYED:
            return (float(msg.get("wait") or 0) +
                    max(self.timeout, _CREATE_ALLOWANCE))
        return self.timeout

    def _unreachable(self, msg: Dict[str, Any], err: BaseException,
                     sent: bool) -> Unreachable:
        where = self.address.describe()
        if not sent:
            return Unreachable(
                "cannot reach poold at %s: %s (is it running? give "
                "Client(socket=...) or set $POOLD_SOCKET)" % (where, err))
        return Unreachable(
            "the connection to poold at %s broke before the answer to %r "
            "came (%s); it may or may not have been done: look before "
            "doing it again" % (where, msg.get("op"), err))

    def _exchange(self, msg: Dict[str, Any], pin: bool = False
                  ) -> Tuple[Dict[str, Any], Optional[Connection]]:
        """Sends ``msg`` and returns (its result, the pinned connection if
        ``pin``), retrying across broken connections as the op allows and
        following ``not_leader`` to the leader (several endpoints)."""
        op = msg.get("op")
        retry = Retry(self.reconnect, msg)
        while True:
            conn: Optional[Connection] = None
            sent = False
            tried = self._follow.current
            msg = retry.next_msg(msg)
            try:
                conn = self._connect() if pin else self._acquire()
                sent = True
                result = conn.request(msg, self._timeout_for(msg))
            except ProtocolError:
                if conn:
                    conn.close()
                raise
            except NotLeader as e:
                if conn:
                    conn.close()
                if not self._follow.several:
                    raise
                self.close()  # the idle ones are the standby's too
                quick = self._follow.not_leader(conn.addr if conn else tried,
                                                e.leader)
                pause = retry.pause(quick)
                if pause is None:
                    raise
                time.sleep(pause)
                continue
            except PoolError as e:
                ending = (retry.retried and op in _RETRY_ENDING and
                          isinstance(e, NotFound))
                # A retried lease may meet the lost request, still waiting
                # in poold until it notices that connection closed.
                again = (retry.retried and op in _RETRY_KEYED and
                         isinstance(e, Conflict))
                if conn and not pin:
                    self._release(conn)
                elif conn:
                    conn.close()
                if ending:
                    return {}, None
                pause = retry.pause(False) if again else None
                if pause is None:
                    raise
                time.sleep(pause)
                continue
            except ssl.SSLCertVerificationError as e:
                # Trying again would meet the same certificate.
                raise Unreachable("poold at %s: %s (give tls=\"CA-FILE\" "
                                  "naming the CA that signed poold's "
                                  "certificate)" % (
                                      self.address.describe(), e)) from e
            except (OSError, EOFError) as e:
                if conn:
                    conn.close()
                else:
                    self._follow.failed(tried)
                retry_ok = (not sent or op in _RETRY_SAFE or
                            op in _RETRY_KEYED or op in _RETRY_ENDING)
                pause = retry.pause(False, lost=sent) if retry_ok else None
                if pause is None:
                    raise self._unreachable(msg, e, sent) from e
                if pin and "request_id" in msg:
                    # A bound lease ended with the broken connection (or
                    # soon will): the retry must not be answered with it.
                    msg = dict(msg, request_id=uuid.uuid4().hex)
                time.sleep(pause)
                continue
            if pin:
                return result, conn
            assert conn is not None
            self._release(conn)
            return result, None

    def call(self, op: str, **fields: Any) -> Dict[str, Any]:
        """Sends any operation and returns its result (a dict); raises the
        :class:`PoolError` subclass of the answer's code. Fields that are
        None are left out. ``lease``/``checkout`` get a generated
        ``request_id`` unless given one."""
        if op == "watch":
            raise ValueError("use Client.watch(): a watch needs a "
                             "connection of its own")
        msg: Dict[str, Any] = {"op": op}
        msg.update((k, v) for k, v in fields.items() if v is not None)
        if op in _RETRY_KEYED and "request_id" not in msg:
            msg["request_id"] = uuid.uuid4().hex
        return self._exchange(msg)[0]

    # ---- leases -----------------------------------------------------------

    def _take(self, op: str, fields: Dict[str, Any],
              discard_on_error: bool) -> Lease:
        msg: Dict[str, Any] = {"op": op}
        msg.update((k, v) for k, v in fields.items() if v is not None)
        msg.setdefault("owner", default_owner())
        msg.setdefault("request_id", uuid.uuid4().hex)
        pin = msg.get("bind") == "connection"
        result, conn = self._exchange(msg, pin=pin)
        return Lease(self, result, pinned=conn,
                     discard_on_error=discard_on_error)

    def lease(self, pool: str, ttl: Optional[float] = None,
              wait: Optional[float] = None, owner: Optional[str] = None,
              bind: Optional[str] = None, *,
              request_id: Optional[str] = None,
              discard_on_error: bool = False) -> Lease:
        """Takes a free resource of ``pool`` (pop-style) and returns the
        :class:`Lease`. ``ttl``: seconds (None: the pool's ``lease_ttl``;
        0: none); ``wait``: seconds to wait in the pool's queue when
        nothing is free (None or 0: raise :class:`Exhausted` at once);
        ``owner``: a label (default ``"HOSTNAME pid:N"``); ``bind``:
        ``"connection"`` ends the lease when this process exits or its
        connection breaks. ``discard_on_error``: a ``with`` block that
        raises discards the resource instead of returning it."""
        return self._take("lease", {
            "pool": pool, "ttl": ttl, "wait": wait, "owner": owner,
            "bind": bind, "request_id": request_id}, discard_on_error)

    def checkout(self, pool: str, name: Optional[str] = None,
                 match: Optional[Dict[str, Any]] = None,
                 ttl: Optional[float] = None, wait: Optional[float] = None,
                 owner: Optional[str] = None, bind: Optional[str] = None, *,
                 request_id: Optional[str] = None,
                 discard_on_error: bool = False) -> Lease:
        """Checks out a resource to change it (lock-then-replace): the one
        called ``name``, or the first free one whose descriptor contains
        every key of ``match`` with an equal value, or any. Returns a
        :class:`Lease` in mode ``checkout``; see :meth:`lease` for the
        rest."""
        return self._take("checkout", {
            "pool": pool, "name": name, "match": match, "ttl": ttl,
            "wait": wait, "owner": owner, "bind": bind,
            "request_id": request_id}, discard_on_error)

    # ---- reading ----------------------------------------------------------

    def ping(self) -> Dict[str, Any]:
        """``{"version", "uptime", ...}`` of the daemon."""
        return self.call("ping")

    def status(self, pool: Optional[str] = None) -> Dict[str, Any]:
        """Occupancy and counters: ``{"pools": [...], "daemon": {...}}``,
        only ``pool``'s entry in ``pools`` if given."""
        return self.call("status", pool=pool)

    def pools(self) -> List[Dict[str, Any]]:
        """Every pool's settings, in name order."""
        return list(self.call("pool.list").get("pools", []))

    def history_page(self, **filters: Any) -> Dict[str, Any]:
        """One page of the event history: ``{"events": [...], "next":
        cursor or None}``. Filters: ``pool``, ``resource``, ``lease``,
        ``caller``, ``since`` (RFC 3339), ``limit``, ``after`` (a
        ``next`` cursor)."""
        return self.call("history", **filters)

    def history(self, **filters: Any) -> Iterator[Dict[str, Any]]:
        """Every event of the history that matches ``filters`` (see
        :meth:`history_page`), oldest first, following the pages."""
        page = self.history_page(**filters)
        while True:
            for event in page.get("events", []):
                yield event
            cursor = page.get("next")
            if cursor is None:
                return
            page = self.history_page(**dict(filters, after=cursor))

    def watch(self, pool: Optional[str] = None) -> Watch:
        """Streams events (of ``pool``, else of every pool) as they are
        committed: iterate the returned :class:`Watch`, or ``get(timeout)``
        one; ``close()`` it (or use ``with``) when done."""
        return Watch(self, pool)
