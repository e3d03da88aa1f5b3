"""Closing a connection with 4001 when the credential that opened it expires.

A token checked at the handshake says nothing about the hours a WebSocket may stay open. With
``close_at_expiry`` the API arms one timer per connection (a ``loop.call_later`` handle, not a
task) for the moment the credential stops being accepted, and cancels it when the connection ends.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from bolt.auth.base import CLOSE_UNAUTHORIZED
from bolt.protocol.connection import State

if TYPE_CHECKING:
    from bolt.transport.session import HandshakingSession

# A handler that has not accepted yet when the token expires is looked at again this often,
# and closed as soon as it has.
RECHECK_SECONDS = 0.05


class ExpiryTimer:
    """Closes ``session`` with 4001 and ``reason`` at ``expires_at`` (seconds since the epoch)."""

    __slots__ = ("session", "reason", "handle", "closing", "_watcher")

    def __init__(self, session: HandshakingSession, expires_at: float, reason: str = "token expired") -> None:
        self.session = session
        self.reason = reason
        self.closing: asyncio.Task[None] | None = None
        loop = asyncio.get_running_loop()
        # exp is wall-clock time (RFC 7519 §2 NumericDate); the loop's clock is monotonic, so convert once.
        self.handle: asyncio.TimerHandle = loop.call_later(max(0.0, expires_at - time.time()), self._expire)
        self._watcher = loop.create_task(session.wait_closed())
        self._watcher.add_done_callback(self._connection_ended)

    def _expire(self) -> None:
        session = self.session
        if session.closed:
            return
        state = session.state
        if state is State.OPEN:
            self.closing = asyncio.get_running_loop().create_task(session.close(CLOSE_UNAUTHORIZED, self.reason))
        elif state is State.CONNECTING:
            self.handle = asyncio.get_running_loop().call_later(RECHECK_SECONDS, self._expire)

    def _connection_ended(self, _: asyncio.Task[None]) -> None:
        self.handle.cancel()

    def cancel(self) -> None:
        self.handle.cancel()
        self._watcher.cancel()
