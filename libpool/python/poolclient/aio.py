"""poolclient for asyncio: the same surface as :mod:`poolclient`, with
coroutines.

    from poolclient.aio import Client

    c = Client()
    async with c.lease("spark", wait=300) as lease:   # renewed by a task
        await run_job(lease.descriptor)
    lease = await c.lease("spark")                     # or hold it yourself
    await lease.release()

The rules of the sync client hold: each request gets a connection of its
own from a small set (so a waiting lease never blocks another task's
request), connections poold closed while idle are replaced, broken ones
retried when safe (``lease``/``checkout`` with the same ``request_id``),
and a Client or Lease pickles as its address (and id).
"""

import asyncio
import json
import os
import ssl
import time
import uuid
from typing import (Any, AsyncIterator, Dict, Generator, List, Optional,
                    Tuple, Union)

from ._conn import Address, Endpoints, Follow, make_address
from .client import (_CREATE_ALLOWANCE, _MAX_IDLE_CONNS, _RETRY_ENDING,
                     _RETRY_KEYED, _RETRY_SAFE, Retry, default_owner)
from .errors import (Conflict, Expired, NotFound, NotLeader, PoolError,
                     ProtocolError,
                     Unreachable, error_from_wire)
from .lease import _STATE_KEYS, LeaseInfo

__all__ = ["Client", "Lease", "Watch"]

_LINE_LIMIT = 64 * 1024 * 1024  # answers (a resource.list page) can be big


class _Conn:
    """One asyncio connection: a stream pair and its request ids."""

    def __init__(self, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, addr: Address) -> None:
        self.reader, self.writer, self.addr = reader, writer, addr
        self.next_id = 1
        self.pid = os.getpid()

    @classmethod
    async def open(cls, addr: Address, timeout: Optional[float]) -> "_Conn":
        if addr.tcp is None:
            coro = asyncio.open_unix_connection(str(addr.socket),
                                                limit=_LINE_LIMIT)
        else:
            host, _, port = addr.tcp.rpartition(":")
            host = host.strip("[]")
            ctx = None
            if addr.tls:
                ctx = ssl.create_default_context(
                    cafile=addr.tls if isinstance(addr.tls, str) else None)
            coro = asyncio.open_connection(
                host, int(port), ssl=ctx, limit=_LINE_LIMIT,
                server_hostname=host if ctx else None)
        reader, writer = await asyncio.wait_for(coro, timeout)
        conn = cls(reader, writer, addr)
        if addr.tcp is not None:
            try:
                await conn.request({"op": "hello",
                                    "token": addr.token or ""}, timeout)
            except BaseException:
                conn.close()
                raise
        return conn

    def close(self) -> None:
        """Closes the stream (only this process's reference to it)."""
        try:
            self.writer.close()
        except (OSError, RuntimeError):
            pass

    async def aclose(self) -> None:
        """Closes the stream and waits until it is closed."""
        self.close()
        try:
            await self.writer.wait_closed()
        except (OSError, RuntimeError):
            pass

    def stale(self) -> bool:
        """True if poold closed this idle connection."""
        return self.reader.at_eof() or self.writer.is_closing()

    async def read_line(self, timeout: Optional[float]) -> Dict[str, Any]:
        """The next non-empty line, parsed; ConnectionError at its end."""
        while True:
            line = await asyncio.wait_for(self.reader.readline(), timeout)
            if not line.endswith(b"\n"):
                # End of stream, maybe in the middle of a line.
                raise ConnectionResetError("poold closed the connection at "
                                           + self.addr.describe())
            if not line.strip():
                continue
            try:
                obj = json.loads(line.decode("utf-8"))
            except ValueError as e:
                raise ProtocolError("poold sent a line that is not JSON "
                                    "(%s): %r" % (e, line[:200]))
            if not isinstance(obj, dict):
                raise ProtocolError("poold sent a line that is not an "
                                    "object: %r" % (line[:200],))
            return obj

    async def request(self, msg: Dict[str, Any],
                      timeout: Optional[float]) -> Dict[str, Any]:
        """Sends ``msg`` and returns its result, or raises its error."""
        rid = self.next_id
        self.next_id += 1
        line = json.dumps(dict(msg, id=rid), separators=(",", ":"),
                          ensure_ascii=False, allow_nan=False)
        self.writer.write(line.encode("utf-8") + b"\n")
        try:
            await self.writer.drain()
        except BrokenPipeError:
            pass  # poold answered (too_large) and closed: read the answer
        obj = await self.read_line(timeout)
        if "id" not in obj and obj.get("ok") is False:
            raise error_from_wire(obj.get("error"))
        if obj.get("id") != rid:
            raise ProtocolError("poold answered id %r to request id %r"
                                % (obj.get("id"), rid))
        if obj.get("ok") is True:
            result = obj.get("result")
            return result if isinstance(result, dict) else {}
        raise error_from_wire(obj.get("error"))


def _restore_client(address: Address, timeout: Optional[float],
                    reconnect: float) -> "Client":
    return Client(socket=address.socket, tcp=address.tcp,
                  token=address.token, tls=address.tls, timeout=timeout,
                  reconnect=reconnect)


def _restore_lease(address: Address, timeout: Optional[float],
                   reconnect: float, state: Dict[str, Any],
                   discard_on_error: bool) -> "Lease":
    return Lease(_restore_client(address, timeout, reconnect), state,
                 discard_on_error=discard_on_error)


class Client:
    """The asyncio client; arguments as :class:`poolclient.Client`."""

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
        self._idle: List[_Conn] = []

    def __repr__(self) -> str:
        return "aio.Client(%s)" % self.address.describe()

    def __reduce__(self):  # type: ignore[override]
        return (_restore_client, (self.address, self.timeout, self.reconnect))

    def __del__(self) -> None:
        try:
            if self._pid == os.getpid():
                for conn in self._idle:
                    conn.close()
        except Exception:  # half-built, or the interpreter is exiting
            pass

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the idle connections; the client stays usable."""
        self._after_fork()
        while self._idle:
            await self._idle.pop().aclose()

    def _after_fork(self) -> None:
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._idle = []  # the parent's; never written to here

    async def _acquire(self) -> _Conn:
        self._after_fork()
        while self._idle:
            conn = self._idle.pop()
            if not conn.stale():
                return conn
            await conn.aclose()
        return await _Conn.open(self._follow.current, self.timeout)

    def _release(self, conn: _Conn) -> None:
        self._after_fork()
        if conn.pid == os.getpid() and len(self._idle) < _MAX_IDLE_CONNS:
            self._idle.append(conn)
        else:
            conn.close()

    def _timeout_for(self, msg: Dict[str, Any]) -> Optional[float]:
        if self.timeout is None:
            return None
        if msg.get("op") in _RETRY_KEYED:
            return (float(msg.get("wait") or 0) +
                    max(self.timeout, _CREATE_ALLOWANCE))
        return self.timeout

    async def _exchange(self, msg: Dict[str, Any], pin: bool = False
                        ) -> Tuple[Dict[str, Any], Optional[_Conn]]:
        """As poolclient.Client._exchange, with coroutines."""
        op = msg.get("op")
        retry = Retry(self.reconnect, msg)
        while True:
            conn: Optional[_Conn] = None
            sent = False
            tried = self._follow.current
            msg = retry.next_msg(msg)
            try:
                conn = (await _Conn.open(tried, self.timeout) if pin
                        else await self._acquire())
                sent = True
                result = await conn.request(msg, self._timeout_for(msg))
            except ProtocolError:
                if conn:
                    conn.close()
                raise
            except NotLeader as e:
                if conn:
                    conn.close()
                if not self._follow.several:
                    raise
                await self.close()  # the idle ones are the standby's too
                quick = self._follow.not_leader(conn.addr if conn else tried,
                                                e.leader)
                pause = retry.pause(quick)
                if pause is None:
                    raise
                await asyncio.sleep(pause)
                continue
            except PoolError as e:
                ending = (retry.retried and op in _RETRY_ENDING and
                          isinstance(e, NotFound))
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
                await asyncio.sleep(pause)
                continue
            except ssl.SSLCertVerificationError as e:
                raise Unreachable("poold at %s: %s (give tls=\"CA-FILE\")"
                                  % (self.address.describe(), e)) from e
            except (OSError, EOFError, asyncio.TimeoutError) as e:
                if conn:
                    conn.close()
                else:
                    self._follow.failed(tried)
                retry_ok = (not sent or op in _RETRY_SAFE or
                            op in _RETRY_KEYED or op in _RETRY_ENDING)
                pause = retry.pause(False, lost=sent) if retry_ok else None
                if pause is None:
                    raise Unreachable(
                        "no answer from poold at %s to %r (%s)%s" % (
                            self.address.describe(), op, e or type(e).__name__,
                            "; it may or may not have been done, so it was "
                            "not sent again" if sent else "")) from e
                if pin and "request_id" in msg:
                    msg = dict(msg, request_id=uuid.uuid4().hex)
                await asyncio.sleep(pause)
                continue
            if pin:
                return result, conn
            self._release(conn)
            return result, None

    async def call(self, op: str, **fields: Any) -> Dict[str, Any]:
        """Any op; returns its result dict (see poolclient.Client.call)."""
        if op == "watch":
            raise ValueError("use Client.watch(): a watch needs a "
                             "connection of its own")
        msg: Dict[str, Any] = {"op": op}
        msg.update((k, v) for k, v in fields.items() if v is not None)
        if op in _RETRY_KEYED and "request_id" not in msg:
            msg["request_id"] = uuid.uuid4().hex
        return (await self._exchange(msg))[0]

    def lease(self, pool: str, ttl: Optional[float] = None,
              wait: Optional[float] = None, owner: Optional[str] = None,
              bind: Optional[str] = None, *,
              request_id: Optional[str] = None,
              discard_on_error: bool = False) -> "_Taking":
        """``await`` it for a :class:`Lease`, or ``async with`` it to hold
        the lease for a block (renewed by a task, released at the end)."""
        return _Taking(self, "lease", {
            "pool": pool, "ttl": ttl, "wait": wait, "owner": owner,
            "bind": bind, "request_id": request_id}, discard_on_error)

    def checkout(self, pool: str, name: Optional[str] = None,
                 match: Optional[Dict[str, Any]] = None,
                 ttl: Optional[float] = None, wait: Optional[float] = None,
                 owner: Optional[str] = None, bind: Optional[str] = None, *,
                 request_id: Optional[str] = None,
                 discard_on_error: bool = False) -> "_Taking":
        """As :meth:`lease`, for a checkout."""
        return _Taking(self, "checkout", {
            "pool": pool, "name": name, "match": match, "ttl": ttl,
            "wait": wait, "owner": owner, "bind": bind,
            "request_id": request_id}, discard_on_error)

    async def _take(self, op: str, fields: Dict[str, Any],
                    discard_on_error: bool) -> "Lease":
        msg: Dict[str, Any] = {"op": op}
        msg.update((k, v) for k, v in fields.items() if v is not None)
        msg.setdefault("owner", default_owner())
        msg.setdefault("request_id", uuid.uuid4().hex)
        result, conn = await self._exchange(
            msg, pin=msg.get("bind") == "connection")
        return Lease(self, result, pinned=conn,
                     discard_on_error=discard_on_error)

    async def ping(self) -> Dict[str, Any]:
        """``{"version", "uptime", ...}``."""
        return await self.call("ping")

    async def status(self, pool: Optional[str] = None) -> Dict[str, Any]:
        """``{"pools": [...], "daemon": {...}}``."""
        return await self.call("status", pool=pool)

    async def pools(self) -> List[Dict[str, Any]]:
        """Every pool's settings."""
        return list((await self.call("pool.list")).get("pools", []))

    async def history_page(self, **filters: Any) -> Dict[str, Any]:
        """One page of the history: ``{"events", "next"}``."""
        return await self.call("history", **filters)

    async def history(self, **filters: Any) -> AsyncIterator[Dict[str, Any]]:
        """Every matching event, oldest first, following the pages."""
        page = await self.history_page(**filters)
        while True:
            for event in page.get("events", []):
                yield event
            cursor = page.get("next")
            if cursor is None:
                return
            page = await self.history_page(**dict(filters, after=cursor))

    async def watch(self, pool: Optional[str] = None) -> "Watch":
        """A :class:`Watch` of ``pool`` (else of every pool)."""
        conn = await _Conn.open(self._follow.current, self.timeout)
        try:
            await conn.request({"op": "watch", "pool": pool} if pool
                               else {"op": "watch"}, self.timeout)
        except BaseException:
            conn.close()
            raise
        return Watch(conn)


class _Taking:
    """What ``Client.lease``/``checkout`` return: awaitable (the Lease) and
    an async context manager (the lease held for the block)."""

    def __init__(self, client: Client, op: str, fields: Dict[str, Any],
                 discard_on_error: bool) -> None:
        self._args = (op, fields, discard_on_error)
        self._client = client
        self._lease: Optional[Lease] = None

    def __await__(self) -> Generator[Any, None, "Lease"]:
        return self._client._take(*self._args).__await__()

    async def __aenter__(self) -> "Lease":
        self._lease = await self._client._take(*self._args)
        return await self._lease.__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        assert self._lease is not None
        await self._lease.__aexit__(*exc)


class Lease(LeaseInfo):
    """An asyncio lease: the attributes of :class:`poolclient.Lease`, its
    methods as coroutines, and ``lost`` an :class:`asyncio.Event`."""

    def __init__(self, client: Client, data: Dict[str, Any],
                 pinned: Optional[_Conn] = None,
                 discard_on_error: bool = False) -> None:
        self.client = client
        self._data = {k: data.get(k) for k in _STATE_KEYS}
        self._pinned = pinned
        self.discard_on_error = discard_on_error
        self.lost = asyncio.Event()
        self.lost_error: Optional[PoolError] = None
        self._ended = False
        self._renewer: Optional["asyncio.Task[None]"] = None
        self._stopping = False

    def __reduce__(self):  # type: ignore[override]
        if self._pinned is not None:
            raise TypeError("a lease with bind=\"connection\" cannot cross "
                            "a process")
        c = self.client
        return (_restore_lease, (c.address, c.timeout, c.reconnect,
                                 dict(self._data), self.discard_on_error))

    async def refresh(self) -> "Lease":
        """Reads the lease again (``lease.get``)."""
        got = await self.client.call("lease.get", lease=self.id)
        self._data.update((k, v) for k, v in got.items() if k in _STATE_KEYS)
        return self

    async def renew(self, ttl: Optional[float] = None) -> Optional[str]:
        """Extends the lease; returns the new ``expires_at``."""
        result = await self.client.call("renew", lease=self.id, ttl=ttl)
        self._data["expires_at"] = result.get("expires_at")
        if ttl is not None:
            self._data["ttl"] = ttl
        return self._data["expires_at"]

    async def replace(self, descriptor: Dict[str, Any]) -> int:
        """CAS on ``version``; returns (and holds) the new version."""
        result = await self.client.call("replace", lease=self.id,
                                        descriptor=descriptor,
                                        version=self.version)
        self._data["resource"] = dict(self.resource, descriptor=descriptor,
                                      version=result["version"])
        return int(result["version"])

    async def release(self, descriptor: Optional[Dict[str, Any]] = None,
                      discard: bool = False) -> None:
        """The ``return`` op."""
        await self.client.call("return", lease=self.id,
                               descriptor=descriptor, discard=discard or None)
        self._end()

    async def checkin(self, descriptor: Optional[Dict[str, Any]] = None,
                      discard: bool = False) -> None:
        """Ends a checkout (a ``descriptor`` is CAS on ``version``)."""
        version = self.version if descriptor is not None else None
        await self.client.call("checkin", lease=self.id,
                               descriptor=descriptor, version=version,
                               discard=discard or None)
        self._end()

    def _end(self) -> None:
        self._ended = True
        if self._pinned is not None:
            self._pinned.close()
            self._pinned = None

    async def _renew_loop(self) -> None:
        # The flag, not only the cancel, ends the loop: asyncio.wait_for
        # (under the request) can swallow a cancel that meets its answer.
        while not self._stopping:
            interval = self._renew_interval()
            if interval is None:
                return
            await asyncio.sleep(interval)
            if self._stopping:
                return
            try:
                await self.renew()
            except (Expired, NotFound) as e:
                self._lost(e)
                return
            except PoolError:
                continue  # unreachable for now: the next turn retries

    async def __aenter__(self) -> "Lease":
        if self._renewer is None and self._renew_interval() is not None:
            self._stopping = False
            self._renewer = asyncio.ensure_future(self._renew_loop())
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._renewer is not None:
            self._stopping = True
            self._renewer.cancel()
            try:
                await self._renewer
            except asyncio.CancelledError:
                pass
            self._renewer = None
        if self._ended:
            return
        user_error = exc_type is None or issubclass(exc_type, Exception)
        if self.lost.is_set():
            self._end()
            if user_error:
                assert self.lost_error is not None
                raise self._lost(self.lost_error)
            return
        try:
            await self.release(discard=exc_type is not None and
                               self.discard_on_error)
        except (Expired, NotFound) as e:
            self._end()
            if user_error:
                raise self._lost(e) from e


class Watch:
    """Events as they are committed: ``async for event in watch``, or
    ``await watch.get(timeout)`` (None when none came in time)."""

    def __init__(self, conn: _Conn) -> None:
        self._conn: Optional[_Conn] = conn

    async def get(self, timeout: Optional[float] = None
                  ) -> Optional[Dict[str, Any]]:
        """The next event, or None after ``timeout`` seconds."""
        if self._conn is None:
            raise ValueError("this watch is closed")
        try:
            return await self._conn.read_line(timeout)
        except asyncio.TimeoutError:
            return None
        except OSError as e:
            await self.close()
            raise Unreachable("the watch connection to poold broke (%s); "
                              "events since may be missed: watch again" % e)

    def __aiter__(self) -> "Watch":
        return self

    async def __anext__(self) -> Dict[str, Any]:
        event = await self.get(None)
        assert event is not None
        return event

    async def close(self) -> None:
        """Ends the watch."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.aclose()

    async def __aenter__(self) -> "Watch":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
