"""What the sync (:mod:`poolclient.client`) and asyncio
(:mod:`poolclient.aio`) clients share and which does no I/O: where a daemon
is (:class:`Address`, :class:`Follow`), the JSON Lines framing of a request
and its answer, which requests may be sent again and when (:class:`Retry`),
and the messages a client builds. Each client keeps only its sockets,
sleeps and locks.
"""

import json
import os
import socket as _socket
import ssl
import time
import uuid
from typing import (Any, Dict, List, NamedTuple, Optional, Sequence, Tuple,
                    Union)

from .errors import Conflict, NotFound, PoolError, ProtocolError, \
    Unreachable, error_from_wire

SOCKET_ENV = "POOLD_SOCKET"
TOKEN_ENV = "POOLD_TOKEN"
SOCKET_ROOT = "/run/poold/poold.sock"
SOCKET_NAME = "poold.sock"


def default_socket() -> str:
    """The socket path poold listens on when given none (the same rule as
    ``pool_socket_default`` in libpool/include/pool_protocol.h):
    $POOLD_SOCKET, else /run/poold/poold.sock as root, else
    $XDG_RUNTIME_DIR/poold.sock, else /tmp/poold-<uid>.sock."""
    env = os.environ.get(SOCKET_ENV)
    if env:
        return env
    if os.geteuid() == 0:
        return SOCKET_ROOT
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return os.path.join(xdg, SOCKET_NAME)
    return "/tmp/poold-%d.sock" % os.geteuid()


class Address(NamedTuple):
    """Where a daemon is and how to introduce oneself: a Unix socket path,
    or TCP ``host:port`` with a token and, optionally, TLS (``tls`` is
    False, True for the system's CA store, or the path of a CA file).
    Several front ends of one cluster are comma-separated in ``socket``
    or ``tcp`` (see :meth:`endpoints`). Plain data, so that it pickles."""
    socket: Optional[str] = None
    tcp: Optional[str] = None
    token: Optional[str] = None
    tls: Union[bool, str] = False

    def describe(self) -> str:
        """The address as a user would write it, for messages."""
        if self.tcp:
            return "%s://%s" % ("tls" if self.tls else "tcp", self.tcp)
        return str(self.socket)

    def endpoints(self) -> List["Address"]:
        """One Address per front end named."""
        if self.tcp is not None:
            return [self._replace(tcp=t) for t in self.tcp.split(",")]
        return [self._replace(socket=p) for p in str(self.socket).split(",")]


Endpoints = Union[None, str, Sequence[str]]


def _joined(value: Endpoints, what: str) -> Optional[str]:
    """One endpoint, "a,b" or a list of them as one comma-joined string;
    an empty one is a ValueError naming the argument."""
    if value is None or value == "":
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    if not items or not all(isinstance(i, str) and i for i in items):
        raise ValueError("%s=%r: an empty endpoint; give one, \"a,b\" or a "
                         "list of them" % (what, value))
    return ",".join(items)


def make_address(socket_path: Endpoints, tcp: Endpoints,
                 token: Optional[str], tls: Union[bool, str]) -> Address:
    """Resolves the Client's arguments and the environment to an Address."""
    socket_path = _joined(socket_path, "socket")
    tcp = _joined(tcp, "tcp")
    if socket_path and tcp:
        raise ValueError("give socket= or tcp=, not both")
    if tcp:
        for one in tcp.split(","):
            host, sep, port = one.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError("tcp=%r: expected \"host:port\"" % (one,))
        return Address(None, tcp, token or os.environ.get(TOKEN_ENV), tls)
    return Address(_joined(socket_path or default_socket(), "socket"),
                   None, None, False)


class Follow:
    """Which of several front ends to talk to (docs/ha.md): the one that
    answered last; the leader a ``not_leader`` names, when this client can
    dial it (``unix:PATH`` for Unix sockets, ``host:port`` for TCP; listed
    or not, as ``--advertise`` is the operator's); else the next one in
    turn. Plain assignments, so threads may share it."""

    def __init__(self, address: Address) -> None:
        self.endpoints = address.endpoints()
        self.current = self.endpoints[0]

    @property
    def several(self) -> bool:
        """Whether there is anywhere else to go."""
        return len(self.endpoints) > 1

    def failed(self, addr: Address) -> None:
        """addr did not take a connection: the next one."""
        if addr != self.current:
            return
        i = self.endpoints.index(addr) if addr in self.endpoints else -1
        self.current = self.endpoints[(i + 1) % len(self.endpoints)]

    def not_leader(self, addr: Address, leader: Optional[str]) -> bool:
        """addr answered not_leader naming leader (None: not known yet).
        True when that names another front end, to try at once."""
        named: Optional[Address] = None
        if leader and leader.startswith("unix:"):
            if addr.tcp is None:
                named = addr._replace(socket=leader[5:])
        elif leader and addr.tcp is not None:
            named = addr._replace(tcp=leader)
        if named is not None and named != addr:
            self.current = named
            return True
        self.failed(addr)
        return False


def tcp_target(addr: Address) -> Tuple[str, int]:
    """The host (without IPv6 brackets) and port of a TCP address."""
    assert addr.tcp is not None
    host, _, port = addr.tcp.rpartition(":")
    return host.strip("[]"), int(port)


def tls_context(addr: Address) -> Optional[ssl.SSLContext]:
    """The TLS context of addr (None: plain TCP or a Unix socket)."""
    if addr.tcp is None or not addr.tls:
        return None
    return ssl.create_default_context(
        cafile=addr.tls if isinstance(addr.tls, str) else None)


def hello_msg(addr: Address) -> Optional[Dict[str, Any]]:
    """What a new connection to addr sends first: TCP connections must
    introduce themselves before anything else."""
    if addr.tcp is None:
        return None
    return {"op": "hello", "token": addr.token or ""}


# ---- framing -------------------------------------------------------------

def encode(msg: Dict[str, Any], rid: Any) -> bytes:
    """The line that sends msg as request rid."""
    line = json.dumps(dict(msg, id=rid), separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False)
    return line.encode("utf-8") + b"\n"


def decode(line: bytes) -> Optional[Dict[str, Any]]:
    """One line from the daemon (without its newline), parsed; None for a
    blank one. Raises ProtocolError on a line that is not a JSON object."""
    if not line.strip():
        return None
    try:
        obj = json.loads(line.decode("utf-8"))
    except ValueError as e:
        raise ProtocolError("poold sent a line that is not JSON "
                            "(%s): %r" % (e, line[:200]))
    if not isinstance(obj, dict):
        raise ProtocolError("poold sent a line that is not an "
                            "object: %r" % (line[:200],))
    return obj


def result_of(obj: Dict[str, Any], rid: Any) -> Dict[str, Any]:
    """The result of the answer obj to request rid, or raises the
    PoolError of its error code."""
    if "id" not in obj and obj.get("ok") is False:
        # A refusal before any request was read (e.g. too many
        # connections: one busy line, then close).
        raise error_from_wire(obj.get("error"))
    if obj.get("id") != rid:
        raise ProtocolError("poold answered id %r to request id %r"
                            % (obj.get("id"), rid))
    if obj.get("ok") is True:
        result = obj.get("result")
        return result if isinstance(result, dict) else {}
    raise error_from_wire(obj.get("error"))


# ---- requests ------------------------------------------------------------

# Ops whose retry after a lost answer changes nothing.
RETRY_SAFE = frozenset((
    "ping", "hello", "pool.get", "pool.list", "resource.get", "resource.list",
    "lease.get", "lease.list", "status", "history", "renew"))
# Ops made idempotent by their request_id.
RETRY_KEYED = frozenset(("lease", "checkout"))
# Ops that end a lease: a retry answered not_found means the first one did.
RETRY_ENDING = frozenset(("return", "checkin"))

# not_leader answers followed in one search for the leader.
_MAX_HOPS = 64
# not_leader hops to a named leader in a row without a pause.
_QUICK_HOPS = 2
# How long poold may take on a lease that creates a resource through a
# command: the contract's default create timeout.
CREATE_ALLOWANCE = 600.0
# Idle connections a client keeps for the next request.
MAX_IDLE_CONNS = 8


def new_request_id() -> str:
    """A fresh request_id (32 hex characters)."""
    return uuid.uuid4().hex


def default_owner() -> str:
    """The owner label of leases taken without one: ``"HOSTNAME pid:N"``."""
    return "%s pid:%d" % (_socket.gethostname(), os.getpid())


def _msg(op: str, fields: Dict[str, Any]) -> Dict[str, Any]:
    msg: Dict[str, Any] = {"op": op}
    msg.update((k, v) for k, v in fields.items() if v is not None)
    return msg


def call_msg(op: str, fields: Dict[str, Any]) -> Dict[str, Any]:
    """The request of Client.call: fields that are None left out, a
    generated request_id for lease/checkout unless given one."""
    if op == "watch":
        raise ValueError("use Client.watch(): a watch needs a "
                         "connection of its own")
    msg = _msg(op, fields)
    if op in RETRY_KEYED and "request_id" not in msg:
        msg["request_id"] = new_request_id()
    return msg


def take_msg(op: str, fields: Dict[str, Any]) -> Dict[str, Any]:
    """The request of a lease or checkout, with an owner and request_id."""
    msg = _msg(op, fields)
    msg.setdefault("owner", default_owner())
    msg.setdefault("request_id", new_request_id())
    return msg


def watch_msg(pool: Optional[str]) -> Dict[str, Any]:
    """The request that starts a watch of pool (None: every pool)."""
    return {"op": "watch", "pool": pool} if pool is not None \
        else {"op": "watch"}


def timeout_for(timeout: Optional[float],
                msg: Dict[str, Any]) -> Optional[float]:
    """How long to wait for msg's answer: a lease or checkout adds its
    wait and the time a create command may take."""
    if timeout is None:
        return None
    if msg.get("op") in RETRY_KEYED:
        return float(msg.get("wait") or 0) + max(timeout, CREATE_ALLOWANCE)
    return timeout


def unreachable(address: Address, msg: Dict[str, Any], err: BaseException,
                sent: bool) -> Unreachable:
    """The error of a request that found no daemon to answer it."""
    where = address.describe()
    # asyncio's timeout says nothing as a string.
    err = str(err) or type(err).__name__  # type: ignore[assignment]
    if not sent:
        return Unreachable(
            "cannot reach poold at %s: %s (is it running? give "
            "Client(socket=...) or set $POOLD_SOCKET)" % (where, err))
    return Unreachable(
        "the connection to poold at %s broke before the answer to %r "
        "came (%s); it may or may not have been done: look before "
        "doing it again" % (where, msg.get("op"), err))


def untrusted(address: Address, err: BaseException) -> Unreachable:
    """The error of a certificate poold's CA file does not verify:
    trying again would meet the same certificate."""
    return Unreachable("poold at %s: %s (give tls=\"CA-FILE\" naming the "
                       "CA that signed poold's certificate)" % (
                           address.describe(), err))


class Retry:
    """The bounds of one request's retries: ``reconnect`` seconds of
    looking for a daemon that answers, counted from the first failure in a
    row (and anew when a request had been with a daemon that long: a
    waiter across a failover); at most _MAX_HOPS tries; a pause doubling
    from 50 ms to 1 s, so it never spins; and the ``wait`` that is left,
    so that a retried lease never waits longer than asked in all. It
    also decides which failures are retried: the clients only sleep."""

    def __init__(self, reconnect: float, msg: Dict[str, Any]) -> None:
        self.reconnect = reconnect
        self.op = msg.get("op")
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

    def ended(self, e: PoolError) -> bool:
        """A retried return/checkin answered not_found: the first one,
        whose answer was lost, did it."""
        return (self.retried and self.op in RETRY_ENDING and
                isinstance(e, NotFound))

    def refused_pause(self, e: PoolError) -> Optional[float]:
        """The pause before trying a refused request again, None to raise
        e. A retried lease may meet the lost request, still waiting in
        poold until it notices that connection closed (conflict)."""
        if (self.retried and self.op in RETRY_KEYED and
                isinstance(e, Conflict)):
            return self.pause(False)
        return None

    def broken_pause(self, sent: bool) -> Optional[float]:
        """The pause before trying again after the connection failed (sent:
        the request went out), None when it must not be sent again."""
        if (sent and self.op not in RETRY_SAFE and
                self.op not in RETRY_KEYED and self.op not in RETRY_ENDING):
            return None
        return self.pause(False, lost=sent)


def rekeyed(msg: Dict[str, Any], pin: bool) -> Dict[str, Any]:
    """msg to send again after its connection broke: a bound lease ended
    with the broken connection (or soon will), so the retry must not be
    answered with it."""
    if pin and "request_id" in msg:
        return dict(msg, request_id=new_request_id())
    return msg
