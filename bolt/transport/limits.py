"""A connection's message rate limit: token buckets for messages and bytes, and what happens to a
peer over it. "pause": a message the buckets cannot pay for waits, with those after it, until they
can, and reading stops meanwhile: the handler sees the messages at the limited rate, and nothing
is lost (backpressure). "close": the messages before it are delivered, and the connection closed
with 1008 Policy Violation. A connection without a limit pays one attribute test per read."""

from __future__ import annotations

import time
from dataclasses import dataclass

POLICIES = ("pause", "close")


@dataclass(frozen=True)
class RateLimit:
    """``messages`` per second with bursts of ``burst`` messages, and/or ``bytes`` per second with
    bursts of ``burst_bytes`` (a burst defaults to one second's worth). ``policy`` is "pause" or
    "close". A message's bytes are its ``len()``: bytes of a binary message, characters of a text one."""

    messages: float | None = None
    burst: float | None = None
    bytes: float | None = None
    burst_bytes: float | None = None
    policy: str = "pause"

    def __post_init__(self) -> None:
        if self.messages is None and self.bytes is None:
            raise ValueError("a RateLimit limits messages, bytes, or both")
        for name in ("messages", "burst", "bytes", "burst_bytes"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"RateLimit {name} must be positive, not {value!r}")
        if self.policy not in POLICIES:
            raise ValueError(f"RateLimit policy is 'pause' or 'close', not {self.policy!r}")


class _Bucket:
    __slots__ = ("rate", "capacity", "tokens")

    def __init__(self, rate: float, capacity: float | None) -> None:
        self.rate = rate
        self.capacity = capacity if capacity is not None else rate
        self.tokens = self.capacity

    def refill(self, elapsed: float) -> None:
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)

    def wait(self, amount: float) -> float:
        """Seconds until ``amount`` can be taken (an amount over the capacity: until full)."""
        missing = min(amount, self.capacity) - self.tokens
        return missing / self.rate if missing > 0 else 0.0


class RateLimiter:
    """One connection's buckets. Each message costs one message token and its size in byte
    tokens (``len()``: bytes of a binary message, characters of a text one); a message larger
    than the byte burst passes once the bucket is full, taking it below zero."""

    __slots__ = ("policy", "_buckets", "_stamp")

    def __init__(self, limit: RateLimit) -> None:
        self.policy = limit.policy
        messages = None if limit.messages is None else _Bucket(limit.messages, limit.burst)
        size = None if limit.bytes is None else _Bucket(limit.bytes, limit.burst_bytes)
        self._buckets = (messages, size)
        self._stamp = time.monotonic()

    def refill(self) -> None:
        now = time.monotonic()
        elapsed, self._stamp = now - self._stamp, now
        for bucket in self._buckets:
            if bucket is not None:
                bucket.refill(elapsed)

    def admit(self, size: int) -> bool:
        """Take one message of ``size`` if the buckets allow it now (call ``refill()`` first)."""
        messages, nbytes = self._buckets
        if (messages is not None and messages.tokens < 1) or (nbytes is not None and nbytes.wait(size) > 0):
            return False
        if messages is not None:
            messages.tokens -= 1
        if nbytes is not None:
            nbytes.tokens -= size
        return True

    def wait(self, size: int) -> float:
        """Seconds until a message of ``size`` would be admitted."""
        messages, nbytes = self._buckets
        return max(
            0.0 if messages is None else messages.wait(1), 0.0 if nbytes is None else nbytes.wait(size)
        )
