"""The broker interface, the in-process broker, and picking a broker from a URL.

A broker carries broadcasts between the processes that serve one API (workers, machines). The hub
of each process writes a broadcast to its own members itself, at once, so a broker only ever
passes frames to the *other* processes. Implementing the four methods and two attributes below is
all another broker (NATS, Valkey, a message bus) needs:

- ``subscribe(group)`` is called, synchronously, when the first member on this process joins a
  group, and ``unsubscribe(group)`` when the last one leaves; calls come in order and must take
  effect in that order. ``subscribe`` returns ``None`` or a future that completes once frames
  published to the group from then on will reach this process (``join()`` waits for it); it
  must complete at once while the broker is unreachable: a join never waits on an outage.
- ``publish(group, frame)`` never blocks and never raises: a frame it cannot pass on is dropped
  and counted in ``dropped`` (delivery is at most once).
- ``start(deliver)`` connects (it may return before the broker is reachable: it keeps trying),
  and from then on calls ``deliver(group, frame)`` for each frame another process published to a
  group this process subscribed to, in the order that process published them; ``stop()``
  disconnects. Neither raises for an unreachable broker.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Protocol

from bolt.exceptions import ConfigurationError

Deliver = Callable[[str, bytes], None]


class Broker(Protocol):
    #: False for a broker that reaches no other process (the in-process one).
    spans_processes: bool
    #: Frames ``publish()`` could not pass on.
    dropped: int

    async def start(self, deliver: Deliver) -> None: ...

    async def stop(self) -> None: ...

    def subscribe(self, group: str) -> asyncio.Future[None] | None: ...

    def unsubscribe(self, group: str) -> None: ...

    def publish(self, group: str, frame: bytes) -> None: ...


class InProcessBroker:
    """Groups that span this process only: each worker of ``--workers N`` has its own."""

    spans_processes = False
    dropped = 0

    async def start(self, deliver: Deliver) -> None:
        pass

    async def stop(self) -> None:
        pass

    def subscribe(self, group: str) -> None:
        return None

    def unsubscribe(self, group: str) -> None:
        pass

    def publish(self, group: str, frame: bytes) -> None:
        pass

    def __repr__(self) -> str:
        return "InProcessBroker()"


def broker_from(spec: str | Broker | None) -> Broker:
    """A broker from ``BoltAPI(broker=...)``: a broker object as it is; a URL (``redis://``,
    ``rediss://``, ``unix://`` for Redis, ``memory://`` for in-process); ``None`` for the
    ``BOLT_BROKER`` environment variable, else in-process."""
    if spec is None:
        spec = os.environ.get("BOLT_BROKER") or "memory://"
    if not isinstance(spec, str):
        return spec
    scheme = spec.partition("://")[0].lower()
    if scheme == "memory":
        return InProcessBroker()
    if scheme in ("redis", "rediss", "unix"):
        from bolt.groups.redis import RedisBroker

        return RedisBroker(spec)
    raise ConfigurationError(f"unknown broker {spec!r}: expected redis://host:port/db or memory://")
