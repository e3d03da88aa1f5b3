"""1,000 connections opened and closed in a loop leave nothing behind: open files, traced memory,
sessions and tasks are the same after the last hundred as after the first.

The first test is the ordinary life of a connection (handshake, one message, close handshake) with
bolt's client. The second mixes the unlucky ends a server sees all day: a client that drops TCP
without a close frame, one that leaves half-way through its request, one that leaves right after
sending the request (before the 101 can reach it), and a request for a path that does not exist.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

import bolt
from bolt.testing import AsyncTestClient
from tests.conformance.client import upgrade_request
from tests.hostile.peers import echo_api, open_fds, report

ROUNDS = 1_000
# Growth allowed between the 100th and the last round: a leak of even 100 bytes a connection would
# show as 90 KB; allocator and interning noise is a few KB.
MAX_GROWTH = 64 * 1024


async def settle(server) -> None:
    for _ in range(100):
        if not server.sessions:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.02)
    gc.collect()


def state(server) -> dict:
    return {
        "fds": open_fds(),
        "traced": tracemalloc.get_traced_memory()[0],
        "sessions": len(server.sessions),
        "tasks": len(asyncio.all_tasks()),
    }


async def churn(client, one_round) -> dict:
    marks = {}
    for index in range(ROUNDS):
        await one_round(index)
        if index + 1 in (100, ROUNDS):
            await settle(client.server)
            marks[index + 1] = state(client.server)
    return marks


def check(marks: dict, title: str) -> None:
    first, last = marks[100], marks[ROUNDS]
    report(
        title,
        fds_after_100=first["fds"],
        fds_after_1000=last["fds"],
        traced_growth_bytes=last["traced"] - first["traced"],
        sessions_at_end=last["sessions"],
        tasks_after_100=first["tasks"],
        tasks_at_end=last["tasks"],
    )
    assert last["fds"] == first["fds"]
    assert last["traced"] - first["traced"] < MAX_GROWTH
    assert first["sessions"] == last["sessions"] == 0
    assert last["tasks"] == first["tasks"]


def traced(run, coroutine):
    tracemalloc.start()
    try:
        return run(coroutine)
    finally:
        tracemalloc.stop()


def test_1000_connections_opened_and_closed_leave_nothing_behind(run):
    async def scenario():
        async with AsyncTestClient(echo_api()) as client:
            url = client.url("/echo")

            async def one_round(index: int) -> None:
                async with bolt.connect(url) as ws:
                    await ws.send_text(f"hello {index}")
                    assert await ws.receive_text() == f"hello {index}"

            return await churn(client, one_round)

    check(traced(run, scenario()), f"1000 connects and disconnects (handshake, one message, close; {run.loop_name})")


def test_1000_unlucky_ends_leave_nothing_behind(run):
    request = upgrade_request("/echo")
    hello = b"\x81\x85\x00\x00\x00\x00hello"  # "hello", masked with a zero key

    async def scenario():
        async with AsyncTestClient(echo_api(handshake_timeout=5.0)) as client:
            outcomes = {"dropped": 0, "half request": 0, "gone before 101": 0, "404": 0}

            async def one_round(index: int) -> None:
                reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
                kind = index % 4
                if kind == 0:  # a message, its echo, then TCP dropped without a close frame
                    writer.write(request + hello)
                    await reader.readuntil(b"\r\n\r\n")
                    assert await reader.readexactly(7) == b"\x81\x05hello"
                    writer.transport.abort()
                    outcomes["dropped"] += 1
                elif kind == 1:  # half a request, then gone
                    writer.write(request[: len(request) // 2])
                    await writer.drain()
                    writer.transport.abort()
                    outcomes["half request"] += 1
                elif kind == 2:  # the whole request, gone before the answer
                    writer.write(request)
                    await writer.drain()
                    writer.transport.abort()
                    outcomes["gone before 101"] += 1
                else:  # a path that does not exist
                    writer.write(upgrade_request("/nowhere"))
                    assert (await reader.readline()).startswith(b"HTTP/1.1 404 ")
                    writer.close()
                    outcomes["404"] += 1

            marks = await churn(client, one_round)
            assert set(outcomes.values()) == {ROUNDS // 4}
            return marks

    check(traced(run, scenario()), f"1000 unlucky ends (dropped, half request, gone before 101, 404; {run.loop_name})")
