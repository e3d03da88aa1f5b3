"""Broadcast groups: connections join named groups, and a broadcast reaches every member, on this
process and, through a broker, on every worker and machine that shares it.

- ``hub.py``: the groups of one process and the writing of a broadcast to them (framed once, a
  slow member dropped from a message or closed, never waited on).
- ``brokers.py``: the broker interface, the in-process broker, picking one from a URL.
- ``redis.py``: the Redis broker (``pip install 'bolt-ws[redis]'``).

The application's API is ``BoltAPI(broker=...)``, ``api.broadcast()``, ``websocket.join()``; see
docs/groups.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bolt.groups.brokers import Broker, InProcessBroker, broker_from
from bolt.groups.hub import BroadcastStats, Hub

if TYPE_CHECKING:
    from bolt.groups.redis import RedisBroker

__all__ = ["BroadcastStats", "Broker", "Hub", "InProcessBroker", "RedisBroker", "broker_from"]


def __getattr__(name: str) -> Any:
    # The Redis broker imports redis-py, an optional extra: only when asked for.
    if name == "RedisBroker":
        from bolt.groups.redis import RedisBroker

        return RedisBroker
    raise AttributeError(f"module 'bolt.groups' has no attribute {name!r}")
