"""The exceptions of poolclient: one class per error ``code`` of the poold
protocol (docs/protocol.md), so that ``except Exhausted:`` reads like the
contract, plus the few errors that only a client can see (no daemon to talk
to, an answer that is not the protocol, a lease lost while held).
"""

from typing import Any, Dict, Optional, Type

__all__ = [
    "PoolError", "BadRequest", "UnknownOp", "TooLarge", "NotFound", "Exists",
    "Conflict", "Exhausted", "Timeout", "Busy", "Expired", "Forbidden",
    "Draining", "CreateFailed", "Internal", "NotLeader", "Unreachable",
    "ProtocolError", "LeaseLost", "error_from_wire",
]


class PoolError(Exception):
    """Base of every poolclient error.

    ``code`` is the protocol's error code (``"exhausted"``, ...), ``message``
    the daemon's explanation for humans, ``details`` any further fields of
    the error object (e.g. ``leader`` for ``not_leader``).
    """

    code = "error"

    def __init__(self, message: str, code: Optional[str] = None,
                 details: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: Dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return "%s: %s" % (self.code, self.message)

    def __reduce__(self):  # type: ignore[override]
        # Exceptions travel back from ProcessPoolExecutor workers by pickle.
        return (self.__class__, (self.message, self.code, self.details))


class BadRequest(PoolError):
    """Not JSON, a missing, mistyped or unknown field, or a bad value."""
    code = "bad_request"


class UnknownOp(PoolError):
    """The ``op`` names no operation of this daemon."""
    code = "unknown_op"


class TooLarge(PoolError):
    """The request line was over the daemon's ``--max-line``."""
    code = "too_large"


class NotFound(PoolError):
    """No such pool, resource or lease (also: a lease that has ended)."""
    code = "not_found"


class Exists(PoolError):
    """A pool or resource with that name already exists."""
    code = "exists"


class Conflict(PoolError):
    """Compare-and-swap lost, or the resource's state does not allow it."""
    code = "conflict"


class Exhausted(PoolError):
    """Nothing free, the pool cannot grow, and the request did not wait."""
    code = "exhausted"


class Timeout(PoolError):
    """The request waited ``wait`` seconds and got nothing."""
    code = "timeout"


class Busy(PoolError):
    """A bound was hit: the pool's waiter queue is full, or too many
    connections. Back off and try again."""
    code = "busy"


class Expired(PoolError):
    """The lease's TTL ran out before this request."""
    code = "expired"


class Forbidden(PoolError):
    """The caller may not do this (another caller's lease, an admin op)."""
    code = "forbidden"


class Draining(PoolError):
    """The pool is draining or being deleted: no new leases."""
    code = "draining"


class CreateFailed(PoolError):
    """The pool's create command failed (the message ends with its stderr)."""
    code = "create_failed"


class Internal(PoolError):
    """The daemon could not do it (e.g. its disk is full); nothing happened."""
    code = "internal"


class NotLeader(PoolError):
    """This daemon is a standby; ``leader`` is the active one's address, or
    None while none is known."""
    code = "not_leader"

    @property
    def leader(self) -> Optional[str]:
        """The active front end's advertised address, if the daemon said."""
        return self.details.get("leader")


class Unreachable(PoolError):
    """No answer from poold: it could not be reached, or the connection
    broke and retrying did not help within the client's ``reconnect``
    time."""
    code = "unreachable"


class ProtocolError(PoolError):
    """The daemon's answer was not the protocol (not JSON, wrong ``id``)."""
    code = "protocol"


class LeaseLost(PoolError):
    """A lease held in a ``with`` block ended before the block did: a
    renewal (or the release at the end) answered ``expired`` or
    ``not_found``. ``code`` is that answer's code; ``lease`` the lease id.
    Whatever the block did with the resource after the loss was not
    protected by the lease."""
    code = "lease_lost"

    @property
    def lease(self) -> Optional[str]:
        """The id of the lease that was lost."""
        return self.details.get("lease")


_BY_CODE: Dict[str, Type[PoolError]] = {
    cls.code: cls for cls in (
        BadRequest, UnknownOp, TooLarge, NotFound, Exists, Conflict,
        Exhausted, Timeout, Busy, Expired, Forbidden, Draining, CreateFailed,
        Internal, NotLeader)
}


def error_from_wire(error: Any) -> PoolError:
    """The exception for an answer's ``error`` object: the class of its
    ``code`` (PoolError itself for a code this client does not know)."""
    if not isinstance(error, dict):
        return ProtocolError("error object is not an object: %r" % (error,))
    code = error.get("code")
    message = error.get("message") or ""
    details = {k: v for k, v in error.items() if k not in ("code", "message")}
    if not isinstance(code, str):
        return ProtocolError("error without a code: %r" % (error,))
    cls = _BY_CODE.get(code, PoolError)
    return cls(str(message), code, details)
