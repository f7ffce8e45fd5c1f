"""A lease held from poold, and the ``with`` block that renews it in the
background and gives it back at the end.

A Lease pickles as its id, what poold said about it, and its client's
address: a worker process that unpickles it renews and releases it over
connections of its own.
"""

import datetime
import threading
from typing import TYPE_CHECKING, Any, Dict, Optional

from .errors import Expired, LeaseLost, NotFound, PoolError

if TYPE_CHECKING:
    from ._conn import Address, Connection
    from .client import Client

__all__ = ["Lease", "LeaseInfo"]

_STATE_KEYS = ("lease", "pool", "mode", "resource", "token", "owner", "bind",
               "acquired_at", "expires_at", "ttl")


def _restore_lease(address: "Address", timeout: Optional[float],
                   reconnect: float, state: Dict[str, Any],
                   discard_on_error: bool) -> "Lease":
    from .client import _restore_client
    client = _restore_client(address, timeout, reconnect)
    return Lease(client, state, discard_on_error=discard_on_error)


def _user_error(exc_type: Any) -> bool:
    """Whether a with block ended normally or by an Exception (not by a
    BaseException such as KeyboardInterrupt)."""
    return exc_type is None or issubclass(exc_type, Exception)


def _seconds_until(rfc3339: Optional[str]) -> Optional[float]:
    if not rfc3339:
        return None
    when = datetime.datetime.strptime(rfc3339.replace("Z", "+0000"),
                                      "%Y-%m-%dT%H:%M:%S.%f%z")
    now = datetime.datetime.now(datetime.timezone.utc)
    return (when - now).total_seconds()


class LeaseInfo:
    """What poold said about a lease, as attributes; the base of the sync
    and the asyncio Lease."""

    client: Any
    _data: Dict[str, Any]
    _pinned: Any  # the connection of a bind="connection" lease
    discard_on_error: bool
    lost: Any  # an Event: threading's, or asyncio's for the aio Lease
    lost_error: Optional[PoolError]
    _ended: bool

    # ---- what poold said --------------------------------------------------

    @property
    def id(self) -> str:
        """The lease id (32 hex characters): the capability to use it."""
        return str(self._data["lease"])

    @property
    def pool(self) -> str:
        """The pool the resource belongs to."""
        return str(self._data["pool"])

    @property
    def mode(self) -> str:
        """``"pop"`` (from lease) or ``"checkout"``."""
        return str(self._data["mode"])

    @property
    def resource(self) -> Dict[str, Any]:
        """The Resource object as of the last answer."""
        return self._data["resource"] or {}

    @property
    def name(self) -> str:
        """The resource's name."""
        return str(self.resource.get("name"))

    @property
    def descriptor(self) -> Dict[str, Any]:
        """The resource's descriptor (e.g. its endpoint)."""
        return self.resource.get("descriptor") or {}

    @property
    def version(self) -> int:
        """The resource's version; :meth:`replace` compares it."""
        return int(self.resource.get("version") or 0)

    @property
    def token(self) -> int:
        """Fencing token: larger for every newer lease."""
        return int(self._data["token"])

    @property
    def owner(self) -> Optional[str]:
        """The owner label the lease was taken with."""
        return self._data["owner"]

    @property
    def expires_at(self) -> Optional[str]:
        """When the lease ends unless renewed (RFC 3339), None: never."""
        return self._data["expires_at"]

    @property
    def ttl(self) -> Optional[float]:
        """The lease's TTL in seconds (0: none)."""
        return self._data["ttl"]

    def _renew_interval(self) -> Optional[float]:
        ttl = self.ttl
        if ttl is None:
            ttl = _seconds_until(self.expires_at)
        if not ttl or ttl <= 0:
            return None
        return max(float(ttl) / 3.0, 0.05)

    def _lost(self, cause: PoolError) -> LeaseLost:
        """Records the loss (``lost_error``, ``lost``) and returns the
        exception that says so."""
        self.lost_error = cause
        self.lost.set()
        return LeaseLost(
            "lease %s on %s/%s was lost while held (%s): what was done "
            "after that was not protected by it" % (
                self.id, self.pool, self.name, cause), cause.code,
            {"lease": self.id})

    # ---- state shared by the sync and asyncio Lease ------------------------

    def _hold(self, client: Any, data: Dict[str, Any], pinned: Any,
              discard_on_error: bool, lost: Any) -> None:
        self.client = client
        self._data = {k: data.get(k) for k in _STATE_KEYS}
        self._pinned = pinned
        self.discard_on_error = discard_on_error
        self.lost = lost
        self.lost_error = None
        self._ended = False

    def _restore_args(self) -> tuple:  # type: ignore[type-arg]
        """What a pickled Lease is rebuilt from: only the address crosses
        a process, never a socket."""
        if self._pinned is not None:
            raise TypeError("a lease with bind=\"connection\" ends with its "
                            "connection and cannot cross a process; take it "
                            "with bind=None to pass it on")
        c = self.client
        return (c.address, c.timeout, c.reconnect, dict(self._data),
                self.discard_on_error)

    def _refreshed(self, got: Dict[str, Any]) -> None:
        self._data.update((k, v) for k, v in got.items() if k in _STATE_KEYS)

    def _renewed(self, result: Dict[str, Any],
                 ttl: Optional[float]) -> Optional[str]:
        self._data["expires_at"] = result.get("expires_at")
        if ttl is not None:
            self._data["ttl"] = ttl
        return self._data["expires_at"]

    def _replaced(self, descriptor: Dict[str, Any],
                  result: Dict[str, Any]) -> int:
        self._data["resource"] = dict(self.resource, descriptor=descriptor,
                                      version=result["version"])
        return int(result["version"])

    def _end(self) -> None:
        self._ended = True
        if self._pinned is not None:
            self._pinned.close()
            self._pinned = None

    def _must_release(self, exc_type: Any) -> bool:
        """Leaving the with block: whether the lease is to be given back.
        A lease lost meanwhile raises LeaseLost (unless the block is left
        by a KeyboardInterrupt or the like, which goes on)."""
        if self._ended:
            return False
        if self.lost.is_set():
            self._end()
            if _user_error(exc_type):
                assert self.lost_error is not None
                raise self._lost(self.lost_error)
            return False
        return True

    def _release_failed(self, exc_type: Any, e: PoolError) -> None:
        """The release at the end of the block found the lease gone."""
        self._end()
        if _user_error(exc_type):
            raise self._lost(e) from e

    def __repr__(self) -> str:
        return "Lease(%s, pool=%s, resource=%s, token=%s)" % (
            self._data["lease"], self._data["pool"], self.name,
            self._data["token"])



class Lease(LeaseInfo):
    """A lease: ``id``, ``pool``, ``mode`` (``"pop"``/``"checkout"``),
    ``resource`` (the Resource object: ``name``, ``descriptor``,
    ``version``, ...), ``descriptor``, ``token`` (fencing), ``version``,
    ``expires_at`` (RFC 3339, None without TTL), ``ttl``, ``owner``.

    ``lost`` is set when a background renewal finds the lease ended.
    Used as a context manager it is renewed at about a third of its TTL
    and released when the block ends (discarded instead if the block
    raised and ``discard_on_error`` is true); if it was lost meanwhile,
    leaving the block raises :class:`LeaseLost`.
    """

    def __init__(self, client: "Client", data: Dict[str, Any],
                 pinned: Optional["Connection"] = None,
                 discard_on_error: bool = False) -> None:
        self._hold(client, data, pinned, discard_on_error, threading.Event())
        self._stop = threading.Event()
        self._renewer: Optional[threading.Thread] = None

    def __reduce__(self):  # type: ignore[override]
        return (_restore_lease, self._restore_args())

    # ---- operations -------------------------------------------------------

    def refresh(self) -> "Lease":
        """Reads the lease again from poold (``lease.get``)."""
        self._refreshed(self.client.call("lease.get", lease=self.id))
        return self

    def renew(self, ttl: Optional[float] = None) -> Optional[str]:
        """Extends the lease to now + ``ttl`` (default: its TTL; a ``ttl``
        given becomes its TTL). Returns the new ``expires_at``."""
        return self._renewed(self.client.call("renew", lease=self.id,
                                              ttl=ttl), ttl)

    def replace(self, descriptor: Dict[str, Any]) -> int:
        """Replaces the resource's descriptor if its version is still the
        one this lease holds (else :class:`Conflict`, nothing changed).
        Returns the new version, which the lease then holds."""
        return self._replaced(descriptor, self.client.call(
            "replace", lease=self.id, descriptor=descriptor,
            version=self.version))

    def release(self, descriptor: Optional[Dict[str, Any]] = None,
                discard: bool = False) -> None:
        """Gives the resource back (the ``return`` op): with
        ``descriptor``, that replaces the stored one; with ``discard``, the
        resource is destroyed instead of reused."""
        self.client.call("return", lease=self.id, descriptor=descriptor,
                         discard=discard or None)
        self._end()

    def checkin(self, descriptor: Optional[Dict[str, Any]] = None,
                discard: bool = False) -> None:
        """Ends a checkout: a final ``descriptor`` is compared-and-swapped
        against the version this lease holds (:class:`Conflict` keeps the
        lease held); ``discard`` destroys the resource."""
        version = self.version if descriptor is not None else None
        self.client.call("checkin", lease=self.id, descriptor=descriptor,
                         version=version, discard=discard or None)
        self._end()

    # ---- with: renew in the background, release at the end ---------------

    def _renew_loop(self) -> None:
        while True:
            interval = self._renew_interval()
            if interval is None or self._stop.wait(interval):
                return
            try:
                self.renew()
            except (Expired, NotFound) as e:
                self.lost_error = e
                self.lost.set()
                return
            except PoolError:
                # poold unreachable or refusing for now: the next turn
                # tries again; an expiry meanwhile is reported then.
                continue

    def __enter__(self) -> "Lease":
        if self._renewer is None and self._renew_interval() is not None:
            self._stop.clear()
            self._renewer = threading.Thread(
                target=self._renew_loop, daemon=True,
                name="poolclient-renew-%s" % self.id[:8])
            self._renewer.start()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._renewer is not None:
            self._stop.set()
            self._renewer.join()
            self._renewer = None
        if not self._must_release(exc_type):
            return
        try:
            self.release(discard=exc_type is not None and
                         self.discard_on_error)
        except (Expired, NotFound) as e:
            self._release_failed(exc_type, e)
