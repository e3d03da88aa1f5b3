"""Limits an operator sets: a connection's message rate (pause reading, which loses nothing, or
close 1008), concurrent connections per client address and per user (429 with Retry-After before
the upgrade), and the client's address behind trusted reverse proxies."""

from __future__ import annotations

import asyncio
import time

import pytest
import websockets
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from bolt import BoltAPI, Settings, WebSocket
from bolt.auth import APIKeyAuthentication
from bolt.testing import AsyncTestClient, http_get
from bolt.transport.limits import RateLimit
from bolt.transport.proxies import TrustedProxies

# The message rate


@pytest.mark.parametrize(
    "options",
    [{}, {"messages": 0}, {"messages": 10, "burst": -1}, {"bytes": 10, "policy": "drop"}],
)
def test_a_rate_limit_is_checked_when_made(options):
    with pytest.raises(ValueError):
        RateLimit(**options)


def test_settings_take_only_a_rate_limit():
    with pytest.raises(TypeError):
        Settings(rate_limit={"messages": 10})


def counting_api(limit: RateLimit, count: int = 60) -> tuple[BoltAPI, list]:
    api = BoltAPI(rate_limit=limit)
    received: list = []

    @api.websocket("/ws")
    async def handler(websocket: WebSocket):
        await websocket.accept()
        async for message in websocket:
            received.append(message)
            if len(received) == count:
                await websocket.send_text(f"all {count}")

    return api, received


def test_over_the_rate_reading_pauses_and_nothing_is_lost(run):
    """100 messages a second in bursts of 10, and a peer sending 200 as fast as it can: all 200
    arrive, in order, reading was paused, and it took more than a second.

    The limit is judged per read: the messages of one read are all delivered, and the next read
    waits until the buckets have paid for them. So the rate holds over time, with a burst of at
    most one read (which the inbox bounds: 64 messages by default). Here: at most 10 + 64 + 100 per
    second were read, so 200 take at least 1.26 s; the test asks for 0.8."""
    api, received = counting_api(RateLimit(messages=100, burst=10, policy="pause"), count=200)

    async def main():
        async with AsyncTestClient(api) as client:
            async with websockets.connect(client.url("/ws")) as peer:
                started = time.monotonic()
                for i in range(200):
                    await peer.send(f"m{i}")
                paused = False
                while len(received) < 200:
                    paused = paused or any(s.reading_paused for s in client.server.sessions)
                    await asyncio.sleep(0.005)
                assert await peer.recv() == "all 200"
                return time.monotonic() - started, paused

    elapsed, paused = run(main())
    assert received == [f"m{i}" for i in range(200)]
    assert paused
    assert elapsed >= 0.8  # a lower bound only: a slow machine makes it longer, never shorter


def test_over_the_byte_rate_reading_pauses_too(run):
    api = BoltAPI(rate_limit=RateLimit(bytes=20_000, burst_bytes=20_000))
    received = []

    @api.websocket("/ws")
    async def handler(websocket: WebSocket):
        await websocket.accept()
        async for message in websocket:
            received.append(len(message))
            if len(received) == 8:
                await websocket.send_text("done")

    async def main():
        async with AsyncTestClient(api) as client:
            async with websockets.connect(client.url("/ws"), compression=None) as peer:
                started = time.monotonic()
                for _ in range(8):
                    await peer.send(b"x" * 8000)
                assert await peer.recv() == "done"
                return time.monotonic() - started

    elapsed = run(main())
    assert received == [8000] * 8
    assert elapsed >= 1.0  # 64 KB at 20 KB/s after a 20 KB burst: at least 2 s of refill, less slack


def test_over_the_rate_with_policy_close_the_peer_is_closed_1008(run):
    api, received = counting_api(RateLimit(messages=5, burst=5, policy="close"))

    async def main():
        async with AsyncTestClient(api) as client:
            async with websockets.connect(client.url("/ws")) as peer:
                for i in range(30):
                    await peer.send(f"m{i}")
                with pytest.raises(ConnectionClosedError) as closed:
                    await asyncio.wait_for(peer.recv(), 5)
                return closed.value.rcvd

    close = run(main())
    assert close.code == 1008 and "rate limit" in close.reason
    # What was read before the limit was judged reached the handler, in order.
    assert received and received == [f"m{i}" for i in range(len(received))]


# Connections per client and per user


def test_a_client_over_its_connection_cap_gets_429_with_retry_after(run):
    api = BoltAPI(max_connections_per_client=2)

    @api.websocket("/ws")
    async def handler(websocket: WebSocket):
        await websocket.accept()
        await websocket.receive_text()

    async def main():
        async with AsyncTestClient(api) as client:
            first = await websockets.connect(client.url("/ws"))
            second = await websockets.connect(client.url("/ws"))
            with pytest.raises(InvalidStatus) as refused:
                await websockets.connect(client.url("/ws"))
            response = refused.value.response
            await first.close()
            await asyncio.sleep(0.1)  # its handler ends
            third = await websockets.connect(client.url("/ws"))  # room again
            await second.close()
            await third.close()
            return response

    response = run(main())
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"


def test_a_user_over_their_connection_cap_gets_429_and_others_do_not(run):
    api = BoltAPI(max_connections_per_user=1)

    @api.websocket("/ws", auth=[APIKeyAuthentication({"key-alice": [], "key-bob": []})])
    async def handler(websocket: WebSocket):
        await websocket.accept()
        await websocket.receive_text()

    def as_user(client, key):
        return websockets.connect(client.url("/ws"), additional_headers={"X-API-Key": key})

    async def main():
        async with AsyncTestClient(api) as client:
            alice = await as_user(client, "key-alice")
            with pytest.raises(InvalidStatus) as refused:
                await as_user(client, "key-alice")
            bob = await as_user(client, "key-bob")
            await alice.close()
            await asyncio.sleep(0.1)
            again = await as_user(client, "key-alice")
            for peer in (bob, again):
                await peer.close()
            return refused.value.response.status_code

    assert run(main()) == 429
    assert api._per_user.counts == {} and api._per_client.counts == {}  # nothing left counted


@pytest.mark.parametrize("cap", [0, -1, 1.5, "2"])
def test_caps_are_positive_ints(cap):
    with pytest.raises(ValueError):
        BoltAPI(max_connections_per_client=cap)


# Behind a reverse proxy


@pytest.mark.parametrize(
    "peer, forwarded, client",
    [
        ("10.0.0.5", ["203.0.113.7"], "203.0.113.7"),  # from a trusted proxy: believed
        ("198.51.100.1", ["203.0.113.7"], "198.51.100.1"),  # from anyone else: ignored
        ("10.0.0.5", ["203.0.113.7, 10.0.0.9"], "203.0.113.7"),  # two proxies of ours
        ("10.0.0.5", ["1.2.3.4, 203.0.113.7"], "203.0.113.7"),  # the client lied: its claim is left of it
        ("10.0.0.5", ["203.0.113.7", "10.0.0.9"], "203.0.113.7"),  # two fields are one list
        ("10.0.0.5", ["not-an-address"], "10.0.0.5"),
        ("10.0.0.5", ["10.0.0.8, 10.0.0.9"], "10.0.0.8"),  # all proxies: the first sent it
        ("10.0.0.5", ["2001:db8::1"], "2001:db8::1"),
        ("10.0.0.5", [], "10.0.0.5"),
    ],
)
def test_the_client_behind_trusted_proxies(peer, forwarded, client):
    proxies = TrustedProxies(["10.0.0.0/8"])
    assert proxies.client((peer, 4000), forwarded)[0] == client


def test_through_the_server_the_forwarded_client_is_what_the_handler_and_the_caps_see(run):
    api = BoltAPI(trusted_proxies=("127.0.0.1",), max_connections_per_client=1)
    seen = []

    @api.websocket("/ws")
    async def handler(websocket: WebSocket):
        await websocket.accept()
        seen.append((websocket.client.host, websocket.url.split(":")[0]))
        await websocket.receive_text()

    upgrade = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ]

    async def main():
        async with AsyncTestClient(api) as client:
            headers = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
            first = await websockets.connect(client.url("/ws"), additional_headers=headers)
            # The same machine (the proxy) for another client: not over the cap.
            other = await websockets.connect(client.url("/ws"), additional_headers={"X-Forwarded-For": "203.0.113.8"})
            # The same client again, through the proxy: over it.
            refused = await http_get("127.0.0.1", client.port, "/ws", [*upgrade, ("X-Forwarded-For", "203.0.113.7")])
            await first.close()
            await other.close()
            return refused.status

    assert run(main()) == 429
    assert seen[0] == ("203.0.113.7", "wss")
    assert seen[1] == ("203.0.113.8", "ws")
