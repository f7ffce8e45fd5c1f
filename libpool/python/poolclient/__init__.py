"""poolclient: a Python client of poold, the resource-pool lease service.

    from poolclient import Client, Exhausted

    c = Client()                                # $POOLD_SOCKET, else poold's default
    with c.lease("spark", wait=300) as lease:   # renewed meanwhile, returned at the end
        run_job(lease.descriptor["endpoint"])

Standard library only; see docs/python.md for the whole API, the rules for
threads, pickling and fork(), and the examples.
"""

from ._proto import default_owner
from .client import Client
from .errors import (BadRequest, Busy, Conflict, CreateFailed, Draining,
                     Exhausted, Exists, Expired, Forbidden, Internal,
                     LeaseLost, NotFound, NotLeader, PoolError, ProtocolError,
                     Timeout, TooLarge, UnknownOp, Unreachable)
from .lease import Lease
from .watch import Watch

__version__ = "0.1.0"

__all__ = [
    "Client", "Lease", "Watch", "default_owner",
    "PoolError", "Exhausted", "Timeout", "Conflict", "NotFound", "Expired",
    "Forbidden", "Busy", "Draining", "BadRequest", "UnknownOp", "TooLarge",
    "Exists", "CreateFailed", "Internal", "NotLeader", "Unreachable",
    "ProtocolError", "LeaseLost",
]
