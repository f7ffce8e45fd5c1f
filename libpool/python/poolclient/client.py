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
import ssl
import threading
import time
from typing import (Any, Dict, Iterator, List, Optional, Tuple, Union)

from ._conn import Connection, close_all
from ._proto import (MAX_IDLE_CONNS, Address, Endpoints, Follow, Retry,
                     call_msg, make_address, rekeyed, take_msg, timeout_for,
                     unreachable, untrusted)
from .errors import NotLeader, PoolError, ProtocolError
from .lease import Lease
from .watch import Watch

__all__ = ["Client"]

_shared_lock = threading.Lock()
_shared: Dict[Tuple[Any, ...], "Client"] = {}
_shared_pid = os.getpid()


def _reset_shared_after_fork() -> None:
    # Another thread may have held the lock at fork(); the child's copy
    # would stay locked forever.
    global _shared_lock
    _shared_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_shared_after_fork)


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
            if len(self._idle) < MAX_IDLE_CONNS:
                self._idle.append(conn)
                return
        conn.close()

    # ---- requests ---------------------------------------------------------

    def _exchange(self, msg: Dict[str, Any], pin: bool = False
                  ) -> Tuple[Dict[str, Any], Optional[Connection]]:
        """Sends ``msg`` and returns (its result, the pinned connection if
        ``pin``), retrying across broken connections as the op allows and
        following ``not_leader`` to the leader (several endpoints)."""
        retry = Retry(self.reconnect, msg)
        while True:
            conn: Optional[Connection] = None
            sent = False
            tried = self._follow.current
            msg = retry.next_msg(msg)
            try:
                conn = self._connect() if pin else self._acquire()
                sent = True
                result = conn.request(msg, timeout_for(self.timeout, msg))
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
                if conn and not pin:
                    self._release(conn)
                elif conn:
                    conn.close()
                if retry.ended(e):
                    return {}, None
                pause = retry.refused_pause(e)
                if pause is None:
                    raise
                time.sleep(pause)
                continue
            except ssl.SSLCertVerificationError as e:
                raise untrusted(self.address, e) from e
            except (OSError, EOFError) as e:
                if conn:
                    conn.close()
                else:
                    self._follow.failed(tried)
                pause = retry.broken_pause(sent)
                if pause is None:
                    raise unreachable(self.address, msg, e, sent) from e
                msg = rekeyed(msg, pin)
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
        return self._exchange(call_msg(op, fields))[0]

    # ---- leases -----------------------------------------------------------

    def _take(self, op: str, fields: Dict[str, Any],
              discard_on_error: bool) -> Lease:
        msg = take_msg(op, fields)
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
