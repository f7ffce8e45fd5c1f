"""One connection to poold: where it is (an :class:`Address`, which is what
crosses a process), connecting (and the ``hello`` that TCP needs), and the
JSON Lines framing of one request and its answer. Nothing here retries or
is shared between threads: :mod:`poolclient.client` does that.
"""

import json
import os
import select
import socket
import ssl
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Union

from .errors import ProtocolError, error_from_wire

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


def _open_socket(addr: Address, timeout: Optional[float]) -> socket.socket:
    if addr.tcp is None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(str(addr.socket))
        except BaseException:
            sock.close()
            raise
        return sock
    host, _, port = addr.tcp.rpartition(":")
    host = host.strip("[]")
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    if not addr.tls:
        return sock
    ctx = ssl.create_default_context(
        cafile=addr.tls if isinstance(addr.tls, str) else None)
    try:
        return ctx.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise


class Connection:
    """A connected socket and its read buffer. ``request`` sends one
    request and reads its answer; ``read_line`` reads what comes next
    (events on a watch connection)."""

    def __init__(self, addr: Address, timeout: Optional[float]) -> None:
        self.addr = addr
        self.sock = _open_socket(addr, timeout)
        self.buf = bytearray()
        self.next_id = 1
        self.pid = os.getpid()
        if addr.tcp is not None:
            # TCP connections must introduce themselves before anything else.
            try:
                self.request({"op": "hello", "token": addr.token or ""},
                             timeout)
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        """Closes the socket (only this process's reference to it)."""
        try:
            self.sock.close()
        except OSError:
            pass

    def stale(self) -> bool:
        """True if the daemon closed this idle connection (or wrote to it
        unasked): then it must not be used for a request."""
        if self.buf:
            return True
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def send(self, msg: Dict[str, Any]) -> Any:
        """Sends one request with a fresh ``id``; returns the id."""
        rid = self.next_id
        self.next_id += 1
        line = json.dumps(dict(msg, id=rid), separators=(",", ":"),
                          ensure_ascii=False, allow_nan=False)
        self.sock.sendall(line.encode("utf-8") + b"\n")
        return rid

    def read_line(self, timeout: Optional[float]) -> Dict[str, Any]:
        """The next line from the daemon, parsed. Raises socket.timeout,
        ConnectionError on end of stream, ProtocolError on a bad line."""
        self.sock.settimeout(timeout)
        while True:
            end = self.buf.find(b"\n")
            if end >= 0:
                line = bytes(self.buf[:end])
                del self.buf[:end + 1]
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
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionResetError(
                    "poold closed the connection at %s" % self.addr.describe())
            self.buf += chunk

    def answer(self, rid: Any, timeout: Optional[float]) -> Dict[str, Any]:
        """Reads the answer to request ``rid``: its result, or raises the
        PoolError of its error code."""
        obj = self.read_line(timeout)
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

    def request(self, msg: Dict[str, Any],
                timeout: Optional[float]) -> Dict[str, Any]:
        """Sends ``msg`` and returns its answer's result."""
        try:
            rid = self.send(msg)
        except BrokenPipeError:
            # poold may answer (too_large) and close before reading the
            # whole line: its answer is still there to read.
            return self.answer(self.next_id - 1, timeout)
        return self.answer(rid, timeout)


def close_all(conns: List[Connection]) -> None:
    """Closes every connection of the list and empties it."""
    while conns:
        conns.pop().close()
