"""The groups of one process: who is in which group here, and writing a broadcast to them.

A broadcast is framed once (``PreparedMessage``) and the same bytes are written to every member
on this process, then handed to the broker for the other processes, whose hubs write the frame
they receive to their own members. Nothing here awaits a member: a member whose write buffer
holds more than the limit (its peer is not reading) misses the message, counted, or is closed
with 1013 Try Again Later, as the API's ``slow_member`` policy says. So one slow member never
stalls the publisher or the other members, and what a group can make a process hold for one
member is bounded in bytes: the limit plus one message.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bolt.close_codes import CloseCode
from bolt.exceptions import InvalidState, ProtocolError
from bolt.groups.brokers import Broker
from bolt.protocol.connection import CONNECTING, OPEN
from bolt.protocol.prepared import PreparedMessage

if TYPE_CHECKING:
    from bolt.transport.session import Session

logger = logging.getLogger("bolt.groups")

SLOW_MEMBER_POLICIES = ("drop", "close")
# A group's name is a channel name on the broker as well: keep it printable and short.
MAX_GROUP_NAME = 256


@dataclass
class BroadcastStats:
    """What broadcasting has done on this process since it started."""

    # Broadcasts made on this process, and messages received from other processes.
    published: int = 0
    received: int = 0
    # Messages written to members on this process.
    delivered: int = 0
    # Messages a slow member missed (policy "drop"), and slow members closed with 1013 ("close").
    dropped: int = 0
    closed: int = 0
    # Broadcasts the broker could not pass on to the other processes (it was unreachable, or its
    # outgoing buffer was full), and messages received from them that were not a valid frame.
    remote_dropped: int = 0
    remote_invalid: int = 0


class Hub:
    """The groups on this process, for one API."""

    def __init__(
        self,
        broker: Broker,
        *,
        slow_member: str = "drop",
        slow_member_limit: int = 256 * 1024,
        fragment_size: int | None = None,
    ) -> None:
        if slow_member not in SLOW_MEMBER_POLICIES:
            raise ValueError(f"slow_member is 'drop' or 'close', not {slow_member!r}")
        if slow_member_limit < 0:
            raise ValueError("slow_member_limit is a number of bytes, at least 0")
        self.broker = broker
        self.slow_member = slow_member
        self.slow_member_limit = slow_member_limit
        self.fragment_size = fragment_size
        # group -> {member: its session}, in the order they joined.
        self._members: dict[str, dict[Any, Session]] = {}
        # group -> the broker's subscription in progress (joins wait for it), while pending.
        self._subscribing: dict[str, asyncio.Future[None]] = {}
        self._stats = BroadcastStats()

    @property
    def stats(self) -> BroadcastStats:
        stats = self._stats
        return BroadcastStats(**{**vars(stats), "remote_dropped": stats.remote_dropped + self.broker.dropped})

    async def start(self) -> None:
        await self.broker.start(self._received)

    async def stop(self) -> None:
        await self.broker.stop()

    # Membership

    async def join(self, member: Any, session: Session, groups: set[str], group: str) -> None:
        """Add ``member`` (a WebSocket, whose session and set of groups come along) to ``group``.
        Returns once the member will get every message published to the group from now on, on
        any process: the broker's subscription, if this is the group's first member here, is
        confirmed (or the broker is unreachable, and the member gets local messages meanwhile)."""
        check_group(group)
        state = session.state
        if state is CONNECTING:
            raise InvalidState("accept() the connection before joining a group")
        if state is not OPEN:
            return  # closing: it would receive nothing, and its groups are left when it ends
        members = self._members.get(group)
        if members is None:
            members = self._members[group] = {}
            subscribing = self.broker.subscribe(group)
            if subscribing is not None:
                self._subscribing[group] = subscribing
        members[member] = session
        groups.add(group)
        subscribing = self._subscribing.get(group)
        if subscribing is not None:
            try:
                # Shielded: a joiner cancelled while it waits must not cancel the subscription
                # the group's other joiners wait for.
                await asyncio.shield(subscribing)
            finally:
                if self._subscribing.get(group) is subscribing:
                    del self._subscribing[group]

    def leave(self, member: Any, groups: set[str], group: str) -> None:
        groups.discard(group)
        members = self._members.get(group)
        if members is None or members.pop(member, None) is None:
            return
        if not members:
            del self._members[group]
            self._subscribing.pop(group, None)
            self.broker.unsubscribe(group)

    def leave_all(self, member: Any, groups: set[str]) -> None:
        for group in list(groups):
            self.leave(member, groups, group)

    def memberships(self) -> int:
        """Group memberships on this process (a connection in two groups counts twice)."""
        return sum(len(members) for members in self._members.values())

    def size(self, group: str) -> int:
        """Members of ``group`` on this process."""
        members = self._members.get(group)
        return 0 if members is None else len(members)

    # Broadcasting

    def broadcast(self, group: str, data: str | bytes | bytearray | memoryview, exclude: Any = None) -> int:
        """Frame ``data`` once, write it to the group's members here (but ``exclude``), pass it to
        the broker for the other processes; return how many members here it was written to."""
        check_group(group)
        message = PreparedMessage(data, self.fragment_size)
        self._stats.published += 1
        if self.broker.spans_processes:
            self.broker.publish(group, message.frame)
        members = self._members.get(group)
        return 0 if members is None else self._write(members, message, exclude)

    def _received(self, group: str, frame: bytes) -> None:
        """The broker's callback: a frame another process published to ``group``."""
        self._stats.received += 1
        members = self._members.get(group)
        if not members:
            return
        try:
            message = PreparedMessage.from_frame(frame)
        except (ProtocolError, ValueError):
            # Not written by a bolt hub (someone else publishing on the channel): writing it
            # would corrupt every member's stream.
            self._stats.remote_invalid += 1
            logger.warning("dropped a message on group %r that is not one valid WebSocket frame", group)
            return
        self._write(members, message, None)

    def _write(self, members: dict[Any, Session], message: PreparedMessage, exclude: Any) -> int:
        # One call per member (send_prepared checks the state and the buffer itself): at 64-byte
        # messages, bolt's Python is about a fifth of a broadcast's cost, the kernel's writes the rest.
        limit = self.slow_member_limit
        written = slow = 0
        for member, session in members.items():
            if member is exclude:
                continue
            outcome = session.send_prepared(message, limit)
            if outcome > 0:
                written += 1
            elif outcome < 0:
                slow += 1
                if self.slow_member == "close":
                    session.start_closing(CloseCode.TRY_AGAIN_LATER, "too slow to keep up with broadcasts")
        stats = self._stats
        stats.delivered += written
        if slow:
            if self.slow_member == "close":
                stats.closed += slow
            else:
                stats.dropped += slow
        return written


def check_group(group: str) -> None:
    if type(group) is not str:
        raise TypeError(f"a group's name is a str, not {type(group).__name__}")
    if not group or len(group) > MAX_GROUP_NAME or not group.isprintable():
        raise ValueError(f"a group's name is 1 to {MAX_GROUP_NAME} printable characters, not {group!r}")
