"""Broadcast groups on one process: joining and leaving, delivery exactly once and in order to each
member, the sender excluded, every group left when a connection ends, a slow member dropped from a
message or closed with 1013 without stalling anyone, and the startup and shutdown hooks. On a real
server on loopback, with bolt's client and websockets' (which negotiates permessage-deflate), on
each loop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import websockets

from bolt import BoltAPI, InvalidState, WebSocket, WebSocketDisconnect
from bolt.client import connect
from bolt.groups import BroadcastStats, Hub, InProcessBroker
from bolt.protocol.connection import CLOSING, CONNECTING, OPEN
from bolt.protocol.prepared import PreparedMessage
from bolt.testing import AsyncTestClient
from tests.conformance.client import upgrade_request

KiB = 1024
ROOT = Path(__file__).resolve().parent.parent


def room_api(**options) -> BoltAPI:
    """The issue's room: every text message is broadcast to the room with its name in front.
    A member is told "joined" once it is in the room, so a test never races the join."""
    api = BoltAPI(**options)

    @api.websocket("/ws/room/{room_id}")
    async def room(websocket: WebSocket, room_id: str, exclude_me: bool = False):
        await websocket.accept()
        await websocket.join(f"room:{room_id}")
        await websocket.send_text("joined")
        async for message in websocket.iter_text():
            if message == "leave":
                await websocket.leave(f"room:{room_id}")
                await websocket.send_text(f"left, in {sorted(websocket.groups)}")
                continue
            await api.broadcast(f"room:{room_id}", f"[{room_id}] {message}", exclude=websocket if exclude_me else None)

    return api


async def member(client: AsyncTestClient, path: str):
    peer = await connect(client.url(path))
    assert await peer.receive_text() == "joined"
    return peer


async def until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


# Delivery


def test_every_member_of_a_room_gets_every_message_once_in_order_and_no_other_room_does(run):
    async def main():
        api = room_api()
        async with AsyncTestClient(api) as client:
            ones = [await member(client, "/ws/room/1") for _ in range(3)]
            two = await member(client, "/ws/room/2")
            for i in range(50):
                await ones[i % 3].send_text(f"m{i}")
            heard = [[await peer.receive_text() for _ in range(50)] for peer in ones]
            await two.send_text("only here")
            alone = await two.receive_text()
            for peer in [*ones, two]:
                await peer.close()
            return heard, alone, api.broadcast_stats

    heard, alone, stats = run(main())
    # One sender's messages arrive in its order; the three senders' interleave as the server
    # received them, the same for every member.
    assert heard[0] == heard[1] == heard[2]
    for sender in range(3):
        assert [m for m in heard[0] if int(m.split("m")[1]) % 3 == sender] == [
            f"[1] m{i}" for i in range(sender, 50, 3)
        ]
    assert alone == "[2] only here"
    assert (stats.published, stats.delivered, stats.dropped) == (51, 151, 0)


def test_exclude_skips_the_sender_only(run):
    async def main():
        async with AsyncTestClient(room_api()) as client:
            sender = await member(client, "/ws/room/x?exclude_me=true")
            other = await member(client, "/ws/room/x")
            await sender.send_text("hello")
            heard = await other.receive_text()
            await other.send_text("back")  # not excluded: it comes back to `other` too
            echoes = [await sender.receive_text(), await other.receive_text()]
            await sender.close()
            await other.close()
            return heard, echoes

    assert run(main()) == ("[x] hello", ["[x] back", "[x] back"])


def test_binary_text_and_json_broadcasts_keep_their_type_and_reach_a_deflate_client(run):
    api = BoltAPI()

    @api.websocket("/ws")
    async def listen(websocket: WebSocket):
        await websocket.accept()
        await websocket.join("all")
        await websocket.send_text("joined")
        await websocket.receive_text()

    async def main():
        async with AsyncTestClient(api) as client:
            # websockets negotiates permessage-deflate: a broadcast is an uncompressed frame,
            # which RFC 7692 §6.1 allows on such a connection.
            async with websockets.connect(client.url("/ws"), compression="deflate") as peer:
                assert peer.protocol.extensions, "permessage-deflate was not negotiated"
                assert await peer.recv() == "joined"
                await api.broadcast("all", b"\x00\xffbinary" * 100)
                await api.broadcast("all", "text ✓" * 100)
                await api.broadcast("all", bytearray(b"bytearray"))
                await api.broadcast_json("all", {"n": [1, 2]})
                await api.broadcast_json("all", {"n": 3}, mode="binary")
                received = [await peer.recv() for _ in range(5)]
                await peer.send("bye")
                return received

    assert run(main()) == [
        b"\x00\xffbinary" * 100,
        "text ✓" * 100,
        b"bytearray",
        '{"n":[1,2]}',
        b'{"n":3}',
    ]


def test_a_broadcast_needs_no_connection_and_an_empty_group_gets_nothing(run):
    api = room_api()
    published = []

    @api.get("/announce")
    async def announce():
        published.append(await api.broadcast("room:lobby", "from an HTTP route"))
        return "ok"

    async def main():
        async with AsyncTestClient(api) as client:
            assert await api.broadcast("room:nobody", "into the void") == 0
            peer = await member(client, "/ws/room/lobby")
            background = asyncio.create_task(api.broadcast("room:lobby", "from a background task"))
            assert await background == 1
            assert (await client.get("/announce")).status == 200
            heard = [await peer.receive_text() for _ in range(2)]
            await peer.close()
            return heard

    assert run(main()) == ["from a background task", "from an HTTP route"]
    assert published == [1]


# Membership


def test_join_leave_groups_and_group_size(run):
    api = BoltAPI()
    seen = {}

    @api.websocket("/ws")
    async def handler(websocket: WebSocket):
        await websocket.accept()
        await websocket.join("a")
        await websocket.join("b")
        await websocket.join("a")  # already in it: nothing changes
        seen["joined"] = (websocket.groups, api.group_size("a"), api.group_size("b"))
        await websocket.leave("a")
        await websocket.leave("never joined")
        seen["left"] = (websocket.groups, api.group_size("a"), api.group_size("b"))
        await websocket.send_text("done")
        await websocket.receive_text()

    async def main():
        async with AsyncTestClient(api) as client:
            async with connect(client.url("/ws")) as peer:
                await peer.receive_text()
                assert await api.broadcast("a", "not for a leaver") == 0
                assert await api.broadcast("b", "for b") == 1
                assert await peer.receive_text() == "for b"

    run(main())
    assert seen["joined"] == (frozenset({"a", "b"}), 1, 1)
    assert seen["left"] == (frozenset({"b"}), 0, 1)
    assert api.group_size("b") == 0  # left when the handler ended


@pytest.mark.parametrize("ending", ["client closes", "client drops TCP", "handler raises", "handler returns"])
def test_every_group_is_left_when_the_connection_ends(run, ending):
    api = BoltAPI()

    @api.websocket("/ws")
    async def handler(websocket: WebSocket):
        await websocket.accept()
        for group in ("x", "y", "z"):
            await websocket.join(group)
        await websocket.send_text("joined")
        if ending == "handler returns":
            return
        message = await websocket.receive_text()
        if ending == "handler raises":
            raise RuntimeError(message)
        await websocket.receive_text()

    async def main():
        async with AsyncTestClient(api, raise_server_exceptions=False) as client:
            peer = await connect(client.url("/ws"))
            assert await peer.receive_text() == "joined"
            assert [api.group_size(g) for g in "xyz"] == [1, 1, 1]
            if ending == "client closes":
                await peer.close()
            elif ending == "client drops TCP":
                peer._session.abort()
            elif ending == "handler raises":
                await peer.send_text("boom")
            await until(lambda: all(api.group_size(g) == 0 for g in "xyz"))
            assert await api.broadcast("x", "anyone?") == 0
            if ending != "client drops TCP":
                await peer.close()

    run(main())


def test_joining_before_accept_is_an_error_and_after_close_does_nothing(run):
    api = BoltAPI()
    outcome = {}

    @api.websocket("/ws")
    async def handler(websocket: WebSocket):
        try:
            await websocket.join("early")
        except InvalidState as error:
            outcome["before accept"] = str(error)
        await websocket.accept()
        await websocket.close()
        await websocket.join("late")
        outcome["after close"] = (websocket.groups, api.group_size("late"))

    async def main():
        async with AsyncTestClient(api) as client:
            async with connect(client.url("/ws")) as peer:
                with pytest.raises(WebSocketDisconnect):
                    await peer.receive_text()
            await until(lambda: "after close" in outcome)  # before shutdown cancels the handler

    run(main())
    assert "accept()" in outcome["before accept"]
    assert outcome["after close"] == (frozenset(), 0)


@pytest.mark.parametrize(
    "group, error",
    [("", ValueError), ("x" * 257, ValueError), ("line\nbreak", ValueError), (b"bytes", TypeError), (3, TypeError)],
)
def test_a_bad_group_name_is_refused(group, error):
    api = BoltAPI()
    with pytest.raises(error):
        asyncio.run(api.broadcast(group, "x"))


@pytest.mark.parametrize("data", [3, None, ["list"], {"a": 1}])
def test_only_str_and_bytes_like_can_be_broadcast(data):
    with pytest.raises(TypeError, match="str .text. or bytes-like"):
        asyncio.run(BoltAPI().broadcast("g", data))


def test_a_lone_surrogate_is_refused_before_anything_is_written():
    with pytest.raises(UnicodeEncodeError):
        asyncio.run(BoltAPI().broadcast("g", "bad \ud800"))


# Encode once, and slow members


class FakeSession:
    """What the hub asks of a session, with a write buffer the test sets."""

    def __init__(self, buffered: int = 0, state=OPEN) -> None:
        self.state = state
        self.write_buffer_size = buffered
        self.written: list[PreparedMessage] = []
        self.closed_with: tuple | None = None

    def send_prepared(self, message: PreparedMessage, limit: int | None = None) -> int:
        if self.state is not OPEN:
            return 0
        if limit is not None and self.write_buffer_size > limit:
            return -1
        self.written.append(message)
        return 1

    def start_closing(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)
        self.state = CLOSING


def hub_with(sessions: dict, **options) -> Hub:
    hub = Hub(InProcessBroker(), **options)

    async def join_all():
        for name, session in sessions.items():
            await hub.join(name, session, set(), "g")

    asyncio.run(join_all())
    return hub


def test_a_broadcast_is_framed_once_for_all_members():
    sessions = {f"m{i}": FakeSession() for i in range(5)}
    hub = hub_with(sessions)
    assert hub.broadcast("g", "once") == 5
    messages = [session.written[0] for session in sessions.values()]
    assert all(message is messages[0] for message in messages)
    assert messages[0].frame == b"\x81\x04once"  # FIN, text, unmasked (RFC 6455 §5.1, §5.2)


@pytest.mark.parametrize("policy", ["drop", "close"])
def test_a_slow_member_misses_the_message_or_is_closed_and_the_others_get_it(policy):
    sessions = {
        "fast": FakeSession(buffered=0),
        "at the limit": FakeSession(buffered=64 * KiB),
        "slow": FakeSession(buffered=64 * KiB + 1),
        "closing": FakeSession(state=CLOSING),
    }
    hub = hub_with(
        {name: s for name, s in sessions.items() if name != "closing"}, slow_member=policy, slow_member_limit=64 * KiB
    )
    asyncio.run(hub.join("closing", sessions["closing"], set(), "g"))  # a closing one joins nothing
    assert hub.broadcast("g", "news") == 2
    assert [len(s.written) for s in sessions.values()] == [1, 1, 0, 0]
    stats = hub.stats
    if policy == "drop":
        assert (stats.dropped, stats.closed) == (1, 0)
        assert sessions["slow"].closed_with is None
    else:
        assert (stats.dropped, stats.closed) == (0, 1)
        assert sessions["slow"].closed_with[0] == 1013  # Try Again Later
    assert hub.broadcast("g", "more") == 2  # the slow one is still slow (or closing)


def test_hub_options_are_checked():
    with pytest.raises(ValueError, match="slow_member"):
        BoltAPI(slow_member="wait")
    with pytest.raises(ValueError, match="slow_member_limit"):
        BoltAPI(slow_member_limit=-1)
    with pytest.raises(Exception, match="unknown broker"):
        BoltAPI(broker="kafka://somewhere")
    assert isinstance(BroadcastStats(), BroadcastStats)


def test_joining_waits_on_the_connecting_state():
    session = FakeSession(state=CONNECTING)
    with pytest.raises(InvalidState):
        asyncio.run(Hub(InProcessBroker()).join("m", session, set(), "g"))


@pytest.mark.parametrize("policy", ["drop", "close"])
def test_a_member_that_never_reads_does_not_stall_the_publisher_or_the_others(run, policy):
    """A raw client joins and then never reads: its socket buffers fill, then its transport's
    buffer passes the limit. Every broadcast still returns at once, the reading member gets all
    of them, and what the server holds for the stuck one stays bounded."""
    limit = 256 * KiB
    api = room_api(slow_member=policy, slow_member_limit=limit)
    chunk = "x" * (32 * KiB)
    count = 800  # 25 MiB in all: far more than loopback's socket buffers hold

    async def main():
        async with AsyncTestClient(api) as client:
            stuck = socket.socket()
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
            stuck.connect(("127.0.0.1", client.port))
            stuck.sendall(upgrade_request("/ws/room/busy"))
            reader = await member(client, "/ws/room/busy")
            await until(lambda: api.group_size("room:busy") == 2)
            [stuck_session] = [s for s in client.server.sessions if s.client[1] == stuck.getsockname()[1]]
            most_buffered = 0
            loop = asyncio.get_running_loop()
            slowest = 0.0
            for i in range(count):
                started = loop.time()
                await api.broadcast("room:busy", f"{i:04d}{chunk}")
                slowest = max(slowest, loop.time() - started)
                most_buffered = max(most_buffered, stuck_session.write_buffer_size)
                assert (await reader.receive_text())[:4] == f"{i:04d}"
            stats = api.broadcast_stats
            state = stuck_session.state
            stuck.close()
            await reader.close()
            return stats, state, most_buffered, slowest

    stats, state, most_buffered, slowest = run(main(), 60)
    assert stats.delivered + stats.dropped + stats.closed >= count
    if policy == "drop":
        assert stats.dropped > 0 and stats.closed == 0
        assert state is OPEN
    else:
        assert stats.closed == 1 and stats.dropped == 0
        assert state is not OPEN
    # Bounded in bytes: the limit, plus the one message that took it over (and its close frame).
    assert most_buffered <= limit + 33 * KiB
    assert slowest < 1.0  # generous: a broadcast never waits for the stuck member


# Startup and shutdown


def test_startup_and_shutdown_hooks_run_in_order_around_serving(run):
    api = room_api()
    calls = []

    @api.on_startup
    async def connect_database():
        calls.append(("startup async", api.broker.__class__.__name__))

    @api.on_startup
    def warm_cache():
        calls.append(("startup sync",))

    @api.on_shutdown
    async def failing():
        calls.append(("shutdown failing",))
        raise RuntimeError("a shutdown hook that fails")

    @api.on_shutdown
    def close_database():
        calls.append(("shutdown sync",))

    async def main():
        async with AsyncTestClient(api) as client:
            calls.append(("serving",))
            peer = await member(client, "/ws/room/1")
            await peer.close()
        calls.append(("stopped",))

    run(main())
    assert calls == [
        ("startup async", "InProcessBroker"),
        ("startup sync",),
        ("serving",),
        ("shutdown failing",),
        ("shutdown sync",),
        ("stopped",),
    ]


def test_a_failing_startup_hook_stops_the_server_from_listening(run):
    api = room_api()
    stopped = []

    @api.on_startup
    async def broken():
        raise RuntimeError("no database")

    @api.on_shutdown
    def never():
        stopped.append(True)

    async def main():
        client = AsyncTestClient(api)
        with pytest.raises(RuntimeError, match="no database"):
            await client.__aenter__()
        return client.server.addresses

    assert run(main()) == []
    assert stopped == []  # it never started, so it does not stop


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            assert process.poll() is None, f"the server exited with {process.returncode}"
            time.sleep(0.02)
    raise AssertionError("the server did not start listening")


def test_workers_with_the_in_process_broker_are_warned_that_groups_do_not_span_them(tmp_path):
    log = tmp_path / "bolt.log"
    port = free_port()
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "bolt", "tests.groups_app:api", "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "BOLT_BROKER": ""},
            stderr=sink,
        )
    try:
        wait_listening(port, process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)
    assert "broadcast groups do not span workers" in log.read_text()
