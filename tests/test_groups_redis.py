"""Broadcast groups across processes on a real Redis server (Debian's ``redis-server``, started here
on a free loopback port and stopped by its PID): two bolt processes with clients on each, every
broadcast delivered exactly once to every member and in order per publisher, members leaving
mid-run, Redis stopped and started again mid-run, a join that returns only once the group's
messages flow, and foreign messages on a group's channel.

Without ``redis-server`` or redis-py these tests are skipped, except in CI (``CI`` set: .ci/run
installs both), where that is a failure, as for the interop peers.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import websockets

from bolt import BoltAPI, WebSocket
from bolt.client import connect
from bolt.groups.redis import MAGIC, ORIGIN_SIZE
from bolt.testing import AsyncTestClient, http_get

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")

redis = pytest.importorskip("redis") if not REQUIRED else __import__("redis")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"{what} exited with {process.returncode}")
            time.sleep(0.02)
    process.kill()
    pytest.fail(f"{what} did not start listening")


class RedisServer:
    """A ``redis-server`` of our own, without persistence, that a test can stop and start again
    on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        wait_listening(self.port, self.process, "redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(10)


@pytest.fixture
def redis_server():
    if shutil.which("redis-server") is None:
        if REQUIRED:
            pytest.fail("redis-server is not installed (CI must run the Redis broker's tests)")
        pytest.skip("redis-server is not installed")
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class BoltProcess:
    """``python -m bolt tests.groups_app:api --broker ...`` on a port of its own; its stderr goes
    to a file, read at the end to check that nothing failed."""

    def __init__(self, broker: str, log: Path) -> None:
        self.port = free_port()
        self.log = log
        with open(log, "wb") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bolt", "tests.groups_app:api", "--port", str(self.port), "--broker", broker],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stderr=sink,
            )
        wait_listening(self.port, self.process, "bolt")

    def url(self, room: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/room/{room}"

    async def stats(self) -> dict:
        return json.loads((await http_get("127.0.0.1", self.port, "/stats")).body)

    def stop(self) -> str:
        """SIGTERM, a clean exit, and the log, which must hold no traceback."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                pytest.fail("bolt did not stop within 15 s of SIGTERM")
        log = self.log.read_text()
        assert self.process.returncode == 0, log
        assert "Traceback" not in log, log
        return log


@pytest.fixture
def two_processes(redis_server, tmp_path):
    processes = [BoltProcess(redis_server.url, tmp_path / f"bolt{i}.log") for i in range(2)]
    try:
        yield processes
    finally:
        for process in processes:
            process.stop()


async def join(url: str):
    peer = await websockets.connect(url, max_queue=None)
    assert (await peer.recv()).startswith("joined ")
    return peer


async def drain(peer, count: int, timeout: float = 20.0) -> list[str]:
    return [await asyncio.wait_for(peer.recv(), timeout) for _ in range(count)]


def assert_each_publisher_in_order(received: list[str], publishers: dict[str, int]) -> None:
    """Every publisher's messages exactly once, in the order it sent them."""
    for name, count in publishers.items():
        assert [m for m in received if m.startswith(name + ":")] == [f"{name}:{i}" for i in range(count)]
    assert len(received) == sum(publishers.values())


# Two processes


def test_every_member_on_both_processes_gets_every_broadcast_once_in_order(two_processes):
    one, two = two_processes
    count = 200

    async def main():
        members = [await join(process.url("lobby")) for process in (one, two) for _ in range(4)]
        publishers = {"a": members[0], "b": members[4]}  # one on each process, members themselves

        async def publish(name, peer):
            for i in range(count):
                await peer.send(f"{name}:{i}")

        await asyncio.gather(*(publish(name, peer) for name, peer in publishers.items()))
        received = await asyncio.gather(*(drain(peer, 2 * count) for peer in members))
        stats = [await one.stats(), await two.stats()]
        for peer in members:
            await peer.close()
        return received, stats

    received, stats = asyncio.run(main())
    for messages in received:
        assert_each_publisher_in_order(messages, {"a": count, "b": count})
    for figures in stats:
        assert figures["published"] == count
        assert figures["received"] == count  # the other process's, once each
        assert figures["delivered"] == 2 * count * 4
        assert figures["remote_dropped"] == figures["remote_invalid"] == 0


def test_members_leaving_mid_run_do_not_disturb_the_others(two_processes):
    one, two = two_processes
    count = 300

    async def main():
        stayers = [await join(one.url("r")), await join(two.url("r"))]
        leavers = [await join(process.url("r")) for process in (one, two) for _ in range(6)]
        publisher = stayers[0]

        async def leave_midway():
            for i, peer in enumerate(leavers):
                await asyncio.sleep(0.002)
                if i % 2:
                    await peer.close()
                else:
                    peer.transport.abort()  # gone without a closing handshake

        await asyncio.gather(leave_midway(), *(publisher.send(f"p:{i}") for i in range(count)))
        received = await asyncio.gather(*(drain(peer, count) for peer in stayers))
        for peer in stayers:
            await peer.close()
        return received

    for messages in asyncio.run(main()):
        assert_each_publisher_in_order(messages, {"p": count})


def test_redis_going_away_keeps_local_delivery_and_remote_delivery_resumes(redis_server, tmp_path):
    one, two = (BoltProcess(redis_server.url, tmp_path / f"bolt{i}.log") for i in range(2))

    async def main():
        local, remote = await join(one.url("r")), await join(two.url("r"))
        await local.send("before")
        assert await drain(local, 1) == await drain(remote, 1) == ["before"]

        redis_server.stop()
        for i in range(20):
            await local.send(f"during:{i}")
        assert await drain(local, 20) == [f"during:{i}" for i in range(20)]  # local delivery goes on

        redis_server.start()
        # Remote delivery resumes once both processes have reconnected (backoff: 0.1 s doubling).
        deadline = time.monotonic() + 20
        probes = 0
        while True:
            assert time.monotonic() < deadline, "remote delivery did not resume"
            await local.send(f"probe:{probes}")
            probes += 1
            await drain(local, 1)
            try:
                heard = await asyncio.wait_for(remote.recv(), 0.2)
                break
            except asyncio.TimeoutError:
                continue
        # Nothing from the outage reached the remote member (at most once): a probe came first.
        assert heard.startswith("probe:")
        for i in range(50):
            await local.send(f"after:{i}")
        assert await drain(local, 50) == [f"after:{i}" for i in range(50)]
        rest = []
        while not rest or rest[-1] != "after:49":
            rest.append(await asyncio.wait_for(remote.recv(), 10))
        stats = await one.stats()
        await local.close()
        await remote.close()
        return rest, stats

    try:
        rest, stats = asyncio.run(main())
    finally:
        logs = [one.stop(), two.stop()]
    # Everything published after remote delivery resumed, exactly once and in order (a probe
    # that was slower than its wait may come first).
    assert [m for m in rest if not m.startswith("probe:")] == [f"after:{i}" for i in range(50)]
    assert stats["remote_dropped"] >= 1  # counted, not raised
    assert "Redis broker" in logs[0] and "Redis broker" in logs[1]


# In one process, two APIs sharing one Redis (two hubs, two origins): the join and the channel


def two_apis(url: str) -> tuple[BoltAPI, BoltAPI]:
    apis = []
    for _ in range(2):
        api = BoltAPI(broker=url)

        @api.websocket("/ws/{group}")
        async def member(websocket: WebSocket, group: str):
            await websocket.accept()
            await websocket.join(group)
            await websocket.send_text("joined")
            await websocket.receive_text()

        apis.append(api)
    return apis[0], apis[1]


def test_a_join_returns_once_the_groups_messages_from_other_processes_flow(run, redis_server):
    """Redis is frozen (SIGSTOP) while a member joins a fresh group: its join must not return
    before Redis has confirmed the subscription, or what another process publishes right after
    could be lost. Then, with Redis running, ten more fresh groups: each gets the message
    published the moment its join returned."""
    publisher_api, member_api = two_apis(redis_server.url)
    redis_pid = redis_server.process.pid

    async def main():
        async with AsyncTestClient(publisher_api), AsyncTestClient(member_api) as members:
            os.kill(redis_pid, signal.SIGSTOP)
            try:
                peer = await connect(members.url("/ws/frozen"))
                joined = asyncio.ensure_future(peer.receive_text())
                done, _ = await asyncio.wait([joined], timeout=0.3)
                assert not done, "the join returned before Redis confirmed the subscription"
            finally:
                os.kill(redis_pid, signal.SIGCONT)
            assert await joined == "joined"
            await publisher_api.broadcast("frozen", "first")
            assert await asyncio.wait_for(peer.receive_text(), 5) == "first"
            await peer.send_text("bye")
            await peer.close()
            for i in range(10):
                async with connect(members.url(f"/ws/fresh{i}")) as peer:
                    assert await peer.receive_text() == "joined"
                    await publisher_api.broadcast(f"fresh{i}", f"first {i}")
                    assert await asyncio.wait_for(peer.receive_text(), 5) == f"first {i}"
                    await peer.send_text("bye")

    run(main(), 60)


def test_messages_on_a_channel_that_are_not_bolt_frames_are_dropped_and_counted(run, redis_server):
    _, member_api = two_apis(redis_server.url)

    async def main():
        publisher = redis.asyncio.Redis.from_url(redis_server.url)
        async with AsyncTestClient(member_api) as members:
            async with connect(members.url("/ws/g")) as peer:
                assert await peer.receive_text() == "joined"
                someone = os.urandom(ORIGIN_SIZE)
                await publisher.publish("bolt:g", b"not from bolt at all")  # no envelope: ignored
                await publisher.publish("bolt:g", MAGIC + someone + b"\x81\x05hel")  # a cut frame
                await publisher.publish("bolt:g", MAGIC + someone + b"\x89\x00")  # a ping
                await publisher.publish("bolt:g", MAGIC + someone + b"\x81\x02\xff\xfe")  # bad UTF-8
                await publisher.publish("bolt:g", MAGIC + someone + b"\x82\x02ok")  # a valid one
                assert await asyncio.wait_for(peer.receive_bytes(), 5) == b"ok"
                await peer.send_text("bye")
        await publisher.aclose()
        return member_api.broadcast_stats

    stats = run(main(), 30)
    assert stats.remote_invalid == 3
    assert stats.delivered == 1


def test_the_broker_comes_from_the_url_and_needs_no_reachable_redis_to_start(run):
    """An unreachable Redis does not stop the server: local groups work, the outage is counted."""
    port = free_port()  # nothing listens there
    api = BoltAPI(broker=f"redis://127.0.0.1:{port}/0")

    @api.websocket("/ws")
    async def member(websocket: WebSocket):
        await websocket.accept()
        await websocket.join("g")  # returns at once: Redis is unreachable
        await websocket.send_text("joined")
        await websocket.receive_text()

    async def main():
        async with AsyncTestClient(api) as client:
            async with connect(client.url("/ws")) as peer:
                assert await peer.receive_text() == "joined"
                assert await api.broadcast("g", "local") == 1
                assert await peer.receive_text() == "local"
                await peer.send_text("bye")
        return api.broadcast_stats

    assert repr(api.broker).startswith("RedisBroker(")
    stats = run(main(), 30)
    assert stats.remote_dropped >= 1
