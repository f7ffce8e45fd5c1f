"""One connection to poold: where it is (an :class:`Address`, which is what
crosses a process), connecting (and the ``hello`` that TCP needs), and the
JSON Lines framing of one request and its answer. Nothing here retries or
is shared between threads: :mod:`poolclient.client` does that. What does
no I/O is :mod:`poolclient._proto`'s, shared with the asyncio client.
"""

import os
import select
import socket
from typing import Any, Dict, List, Optional

from ._proto import (Address, decode, encode, hello_msg, result_of,
                     tcp_target, tls_context)


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
    host, port = tcp_target(addr)
    sock = socket.create_connection((host, port), timeout=timeout)
    ctx = tls_context(addr)
    if ctx is None:
        return sock
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
        hello = hello_msg(addr)
        if hello is not None:
            try:
                self.request(hello, timeout)
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
        self.sock.sendall(encode(msg, rid))
        return rid

    def read_line(self, timeout: Optional[float]) -> Dict[str, Any]:
        """The next line from the daemon, parsed. Raises socket.timeout,
        ConnectionError on end of stream, ProtocolError on a bad line."""
        self.sock.settimeout(timeout)
        while True:
            end = self.buf.find(b"\n")
            if end >= 0:
                obj = decode(bytes(self.buf[:end]))
                del self.buf[:end + 1]
                if obj is not None:
                    return obj
                continue
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionResetError(
                    "poold closed the connection at %s" % self.addr.describe())
            self.buf += chunk

    def answer(self, rid: Any, timeout: Optional[float]) -> Dict[str, Any]:
        """Reads the answer to request ``rid``: its result, or raises the
        PoolError of its error code."""
        return result_of(self.read_line(timeout), rid)

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
