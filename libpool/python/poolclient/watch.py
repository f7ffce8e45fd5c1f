"""A stream of poold's events (the ``watch`` op) on a connection of its
own, since events arrive interleaved with nothing else to read."""

import socket
from typing import TYPE_CHECKING, Any, Dict, Optional

from ._conn import Connection
from ._proto import watch_msg
from .errors import Unreachable

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Watch"]


class Watch:
    """Events as poold commits them: ``{"event", "pool", "at",
    "resource"?, "lease"?}``. Iterating blocks until the next event;
    :meth:`get` waits at most ``timeout`` seconds. If the connection
    breaks, :class:`Unreachable` is raised: events were missed, so watch
    again (and read :meth:`Client.history` for the gap)."""

    def __init__(self, client: "Client", pool: Optional[str]) -> None:
        self._client = client
        # The front end requests go to: the leader, as far as known.
        self._conn: Optional[Connection] = Connection(
            client._follow.current, client.timeout)
        try:
            self._conn.request(watch_msg(pool), client.timeout)
        except BaseException:
            self.close()
            raise

    def get(self, timeout: Optional[float] = None
            ) -> Optional[Dict[str, Any]]:
        """The next event, or None if none came within ``timeout`` seconds
        (None: wait as long as it takes)."""
        if self._conn is None:
            raise ValueError("this watch is closed")
        try:
            return self._conn.read_line(timeout)
        except socket.timeout:
            return None
        except OSError as e:
            self.close()
            raise Unreachable("the watch connection to poold at %s broke "
                              "(%s); events since may be missed: watch "
                              "again" % (self._client.address.describe(), e))

    def __iter__(self) -> "Watch":
        return self

    def __next__(self) -> Dict[str, Any]:
        event = self.get(None)
        assert event is not None
        return event

    def close(self) -> None:
        """Ends the watch (closes its connection)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
