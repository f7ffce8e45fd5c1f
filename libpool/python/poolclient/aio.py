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
import os
import ssl
from typing import (Any, AsyncIterator, Dict, Generator, List, Optional,
                    Tuple, Union)

from ._proto import (MAX_IDLE_CONNS, Address, Endpoints, Follow, Retry,
                     call_msg, decode, encode, hello_msg, make_address,
                     rekeyed, result_of, take_msg, tcp_target, timeout_for,
                     tls_context, unreachable, untrusted, watch_msg)
from .errors import (Expired, NotFound, NotLeader, PoolError, ProtocolError,
                     Unreachable)
from .lease import LeaseInfo

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
            host, port = tcp_target(addr)
            ctx = tls_context(addr)
            coro = asyncio.open_connection(
                host, port, ssl=ctx, limit=_LINE_LIMIT,
                server_hostname=host if ctx else None)
        reader, writer = await asyncio.wait_for(coro, timeout)
        conn = cls(reader, writer, addr)
        hello = hello_msg(addr)
        if hello is not None:
            try:
                await conn.request(hello, timeout)
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
            obj = decode(line[:-1])
            if obj is not None:
                return obj

    async def request(self, msg: Dict[str, Any],
                      timeout: Optional[float]) -> Dict[str, Any]:
        """Sends ``msg`` and returns its result, or raises its error."""
        rid = self.next_id
        self.next_id += 1
        self.writer.write(encode(msg, rid))
        try:
            await self.writer.drain()
        except BrokenPipeError:
            pass  # poold answered (too_large) and closed: read the answer
        return result_of(await self.read_line(timeout), rid)


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
        if conn.pid == os.getpid() and len(self._idle) < MAX_IDLE_CONNS:
            self._idle.append(conn)
        else:
            conn.close()

    async def _exchange(self, msg: Dict[str, Any], pin: bool = False
                        ) -> Tuple[Dict[str, Any], Optional[_Conn]]:
        """As poolclient.Client._exchange, with coroutines."""
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
                result = await conn.request(msg, timeout_for(self.timeout, msg))
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
                if conn and not pin:
                    self._release(conn)
                elif conn:
                    conn.close()
                if retry.ended(e):
                    return {}, None
                pause = retry.refused_pause(e)
                if pause is None:
                    raise
                await asyncio.sleep(pause)
                continue
            except ssl.SSLCertVerificationError as e:
                raise untrusted(self.address, e) from e
            except (OSError, EOFError, asyncio.TimeoutError) as e:
                if conn:
                    conn.close()
                else:
                    self._follow.failed(tried)
                pause = retry.broken_pause(sent)
                if pause is None:
                    raise unreachable(self.address, msg, e, sent) from e
                msg = rekeyed(msg, pin)
                await asyncio.sleep(pause)
                continue
            if pin:
                return result, conn
            self._release(conn)
            return result, None

    async def call(self, op: str, **fields: Any) -> Dict[str, Any]:
        """Any op; returns its result dict (see poolclient.Client.call)."""
        return (await self._exchange(call_msg(op, fields)))[0]

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
        msg = take_msg(op, fields)
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
            await conn.request(watch_msg(pool), self.timeout)
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
        self._hold(client, data, pinned, discard_on_error, asyncio.Event())
        self._renewer: Optional["asyncio.Task[None]"] = None
        self._stopping = False

    def __reduce__(self):  # type: ignore[override]
        return (_restore_lease, self._restore_args())

    async def refresh(self) -> "Lease":
        """Reads the lease again (``lease.get``)."""
        self._refreshed(await self.client.call("lease.get", lease=self.id))
        return self

    async def renew(self, ttl: Optional[float] = None) -> Optional[str]:
        """Extends the lease; returns the new ``expires_at``."""
        return self._renewed(await self.client.call("renew", lease=self.id,
                                                    ttl=ttl), ttl)

    async def replace(self, descriptor: Dict[str, Any]) -> int:
        """CAS on ``version``; returns (and holds) the new version."""
        return self._replaced(descriptor, await self.client.call(
            "replace", lease=self.id, descriptor=descriptor,
            version=self.version))

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
        if not self._must_release(exc_type):
            return
        try:
            await self.release(discard=exc_type is not None and
                               self.discard_on_error)
        except (Expired, NotFound) as e:
            self._release_failed(exc_type, e)


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
