"""Groups across processes and machines on Redis pub/sub, through redis-py's asyncio client.

Each process holds two connections to Redis, whatever its number of members and groups:

- a subscriber, subscribed to one channel per group that has members on this process (not one
  per member): it reads the frames other processes publish and hands them to the hub;
- a publisher, which sends what this process broadcasts from an outgoing buffer, bounded in
  bytes, in pipelined batches: a broadcast never waits for Redis.

A message on a channel is ``MAGIC``, the publishing process's random id, and the WebSocket frame
as the publisher's hub made it: a receiving process checks the frame and writes it to its
members as it is, with no encoding of its own, and skips its own messages (its hub delivered them
locally already). Redis keeps the order of the messages one connection publishes, so each
process's broadcasts arrive everywhere in the order they were made.

When Redis goes away, local delivery goes on; broadcasts made meanwhile are dropped for the other
processes and counted (``dropped``); each connection is made again with backoff (0.1 s doubling
up to 5 s, with jitter), and the subscriber subscribes again to every group that has members.
Nothing here raises into a handler.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections import deque
from typing import TYPE_CHECKING

from bolt.exceptions import ConfigurationError
from bolt.groups.brokers import Deliver

try:
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError
except ImportError:  # the optional extra: bolt-ws[redis]
    Redis = None  # type: ignore[assignment, misc]  # RedisBroker() then refuses to be made

if TYPE_CHECKING:
    from redis.asyncio.client import PubSub
    from redis.asyncio.connection import Connection

logger = logging.getLogger("bolt.groups")

MAGIC = b"BLT1"
ORIGIN_SIZE = 8
# Publishes one pipelined batch carries at most.
BATCH = 512


class RedisBroker:
    """Broadcast groups shared by every process connected to the Redis server at ``url``."""

    spans_processes = True

    # Set by start(), which comes before any other call but subscribe() and unsubscribe() (which
    # do not use them before the subscriber is up); publish() checks _outbox_ready for None.
    _deliver: Deliver
    _loop: asyncio.AbstractEventLoop
    _commands_ready: asyncio.Event
    _outbox_ready: asyncio.Event
    _first_attempt: asyncio.Future[None]

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "bolt:",
        max_pending_bytes: int = 16 * 1024 * 1024,
        connect_timeout: float = 2.0,
        reconnect_min: float = 0.1,
        reconnect_max: float = 5.0,
    ) -> None:
        if Redis is None:
            raise ConfigurationError("the Redis broker needs redis-py: pip install 'bolt-ws[redis]'")
        self.url = url
        self.prefix = prefix
        self.max_pending_bytes = max_pending_bytes
        self.connect_timeout = connect_timeout
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self.dropped = 0
        # Groups with members on this process, in the order they were first joined.
        self._wanted: dict[str, None] = {}
        # Subscriber: commands to send, in order, and per channel the joins waiting for Redis to
        # confirm a SUBSCRIBE (it confirms each channel in the order they were asked for).
        self._commands: deque[tuple[str, bytes]] = deque()
        self._confirmations: dict[bytes, deque[asyncio.Future[None]]] = {}
        self._subscribed = False  # the subscriber's connection is up and takes commands
        # Publisher: (channel, message) waiting to be sent, and their size in bytes.
        self._outbox: deque[tuple[bytes, bytes]] = deque()
        self._outbox_bytes = 0
        self._publish_retry_at = 0.0
        self._origin = b""
        # None until start(): see the class annotations.
        self._deliver = None  # type: ignore[assignment]
        self._loop = None  # type: ignore[assignment]
        self._commands_ready = None  # type: ignore[assignment]
        self._outbox_ready = None  # type: ignore[assignment]
        self._tasks: list[asyncio.Task[None]] = []
        # The task sending the subscriber connection's commands, while that connection lasts.
        self._writer: asyncio.Task[None] | None = None
        self._first_attempt = None  # type: ignore[assignment]
        self._stopping = False

    def __repr__(self) -> str:
        return f"RedisBroker({self.url!r})"

    def _client(self) -> Redis:
        # No retries inside redis-py: a failure surfaces here at once, and the reconnecting (with
        # the subscriptions made again) is this module's.
        return Redis.from_url(
            self.url,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=self.connect_timeout,
            socket_keepalive=True,
        )

    def _channel(self, group: str) -> bytes:
        return (self.prefix + group).encode()

    # The broker interface

    async def start(self, deliver: Deliver) -> None:
        # The id is made here, in the process that serves: workers forked from one parent must
        # not share it, or each would skip the others' messages as its own.
        self._origin = os.urandom(ORIGIN_SIZE)
        self._deliver = deliver
        self._loop = asyncio.get_running_loop()
        self._commands_ready = asyncio.Event()
        self._outbox_ready = asyncio.Event()
        self._stopping = False
        self._first_attempt = self._loop.create_future()
        self._tasks = [
            asyncio.create_task(self._subscribe_forever(), name="bolt-redis-subscriber"),
            asyncio.create_task(self._publish_forever(), name="bolt-redis-publisher"),
        ]
        # The server listens once the subscriber is connected, so that groups span processes
        # from the first client on; but an unreachable Redis does not keep it from serving.
        await asyncio.wait([self._first_attempt], timeout=self.connect_timeout)

    async def stop(self, flush_timeout: float = 1.0) -> None:
        """Send what is still in the outgoing buffer (for up to ``flush_timeout``), then disconnect."""
        if not self._tasks:
            return
        self._stopping = True
        subscriber, publisher = self._tasks
        self._outbox_ready.set()
        subscriber.cancel()
        done, _ = await asyncio.wait([publisher], timeout=flush_timeout)
        if not done:
            publisher.cancel()
        await asyncio.gather(subscriber, publisher, return_exceptions=True)
        self._tasks = []
        self._release_joins()

    def subscribe(self, group: str) -> asyncio.Future[None] | None:
        self._wanted[group] = None
        if not self._subscribed:
            return None  # subscribed with every wanted group when the connection is made
        channel = self._channel(group)
        waiter = self._loop.create_future()
        self._confirmations.setdefault(channel, deque()).append(waiter)
        self._command("SUBSCRIBE", channel)
        return waiter

    def unsubscribe(self, group: str) -> None:
        self._wanted.pop(group, None)
        if self._subscribed:
            self._command("UNSUBSCRIBE", self._channel(group))

    def publish(self, group: str, frame: bytes) -> None:
        if self._outbox_ready is None or self._stopping:
            self.dropped += 1
            return
        message = MAGIC + self._origin + frame
        if self._outbox_bytes + len(message) > self.max_pending_bytes or self._loop.time() < self._publish_retry_at:
            self.dropped += 1  # Redis is unreachable, or not keeping up: at most once
            return
        self._outbox.append((self._channel(group), message))
        self._outbox_bytes += len(message)
        self._outbox_ready.set()

    # The subscriber

    def _command(self, verb: str, channel: bytes) -> None:
        self._commands.append((verb, channel))
        self._commands_ready.set()

    async def _subscribe_forever(self) -> None:
        delay = self.reconnect_min
        reported = False  # an outage is logged once, and its end once
        while True:
            client = self._client()
            pubsub = client.pubsub()
            writer = None
            try:
                await pubsub.connect()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
                self._attempted()
                if reported:
                    logger.info("Redis broker %s: subscriber connected again", self.url)
                    reported = False
                # What is wanted now goes first; joins from here on queue their own SUBSCRIBE
                # behind it, and a leave its UNSUBSCRIBE, so Redis sees them in the order made.
                self._commands.clear()
                if self._wanted:
                    self._commands.append(("SUBSCRIBE", b""))
                self._subscribed = True
                self._commands_ready.set()
                writer = self._writer = asyncio.create_task(self._send_commands(pubsub))
                delay = self.reconnect_min
                await self._read(pubsub)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                self._attempted()
                if not reported:
                    logger.warning(
                        "Redis broker %s unreachable (%s): broadcasts reach this process's members only "
                        "until it is back; reconnecting",
                        self.url,
                        error,
                    )
                    reported = True
            finally:
                self._subscribed = False
                self._release_joins()
                if writer is not None:
                    self._writer = None
                    writer.cancel()
                    await asyncio.gather(writer, return_exceptions=True)
                await _close(pubsub, client)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.reconnect_max)

    def _attempted(self) -> None:
        if not self._first_attempt.done():
            self._first_attempt.set_result(None)

    async def _send_commands(self, pubsub: PubSub) -> None:
        """Send the queued SUBSCRIBE and UNSUBSCRIBE commands, in order. A failed write closes
        the connection (redis-py does), which ends the reader too.

        It ends when cancelled, and also once it is no longer the connection's writer: redis-py
        (8.1) can swallow a cancellation that arrives as ``execute_command()`` resumes, and the
        writer would then wait for commands for ever, and the subscriber for it."""
        ready = self._commands_ready
        commands = self._commands
        connection = pubsub.connection
        me = asyncio.current_task()
        while self._writer is me:
            await ready.wait()
            ready.clear()
            while commands and self._writer is me:
                _check_connected(connection)
                verb, channel = commands.popleft()
                if verb == "SUBSCRIBE" and not channel:
                    # Everything wanted, in one command, after a (re)connection.
                    await pubsub.execute_command("SUBSCRIBE", *map(self._channel, self._wanted))
                else:
                    await pubsub.execute_command(verb, channel)

    async def _read(self, pubsub: PubSub) -> None:
        origin = self._origin
        prefix = len(self.prefix.encode())
        header = len(MAGIC) + ORIGIN_SIZE
        connection = pubsub.connection
        while True:
            _check_connected(connection)
            response = await pubsub.parse_response(block=True)
            kind = response[0]
            if kind == b"message":
                message = response[2]
                if message[:4] == MAGIC and message[4:header] != origin:
                    self._deliver(response[1][prefix:].decode(), message[header:])
            elif kind == b"subscribe":
                waiters = self._confirmations.get(response[1])
                if waiters:
                    waiter = waiters.popleft()
                    if not waiters:
                        del self._confirmations[response[1]]
                    if not waiter.done():
                        waiter.set_result(None)

    def _release_joins(self) -> None:
        """The connection is gone: joins waiting for its confirmations return now (their groups
        are subscribed again with the next connection)."""
        for waiters in self._confirmations.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
        self._confirmations.clear()

    # The publisher

    async def _publish_forever(self) -> None:
        client = self._client()
        delay = self.reconnect_min
        outbox = self._outbox
        lost = 0  # broadcasts dropped since publishing last failed
        try:
            while True:
                if not outbox:
                    if self._stopping:
                        return
                    self._outbox_ready.clear()
                    await self._outbox_ready.wait()
                    continue
                batch = [outbox.popleft() for _ in range(min(BATCH, len(outbox)))]
                try:
                    async with client.pipeline(transaction=False) as pipe:
                        for channel, message in batch:
                            pipe.publish(channel, message)
                        await pipe.execute()
                except (RedisError, OSError) as error:
                    if not lost:
                        logger.warning(
                            "Redis broker %s: publishing failed (%s); broadcasts are dropped for other "
                            "processes until it is back",
                            self.url,
                            error,
                        )
                    lost += len(batch) + len(outbox)
                    self.dropped += len(batch) + len(outbox)
                    outbox.clear()
                    self._outbox_bytes = 0
                    self._publish_retry_at = self._loop.time() + delay * random.uniform(0.8, 1.2)
                    delay = min(delay * 2, self.reconnect_max)
                    if self._stopping:
                        return
                    continue
                self._outbox_bytes -= sum(len(message) for _, message in batch)
                if lost:
                    logger.info("Redis broker %s: publishing again (%d broadcasts were not passed on)", self.url, lost)
                    lost = 0
                    delay = self.reconnect_min
        finally:
            await _close(None, client)


def _check_connected(connection: Connection | None) -> None:
    """redis-py connects again by itself before a read or a write; this module must not let it,
    since a new connection has none of the subscriptions: it reconnects itself, and subscribes."""
    if not connection.is_connected:  # type: ignore[union-attr]  # pubsub.connect() made it
        raise ConnectionError("the connection to Redis closed")


async def _close(pubsub: PubSub | None, client: Redis) -> None:
    try:
        if pubsub is not None:
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        await client.aclose()
    except (RedisError, OSError):
        pass
