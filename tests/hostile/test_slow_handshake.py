"""A handshake that trickles in is cut at the handshake timeout, counted from the connection, not
from the last byte: a slow-loris peer cannot hold a slot by sending a byte now and then.

tests/test_server.py checks a request that stops half-way; here the peer keeps making progress.
"""

from __future__ import annotations

import asyncio

from bolt.testing import AsyncTestClient
from tests.conformance.client import upgrade_request
from tests.hostile.peers import Prober, echo_api, report

TIMEOUT = 1.5  # the handshake timeout under test
STEP = 0.3  # one byte every STEP seconds


async def trickle(port: int, request: bytes, step: float) -> dict:
    """Send ``request`` one byte every ``step`` s while reading; when did the answer and EOF come?"""
    loop = asyncio.get_running_loop()
    started = loop.time()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = 0

    async def write() -> None:
        nonlocal sent
        for index in range(len(request)):
            writer.write(request[index : index + 1])
            sent += 1
            await asyncio.sleep(step)

    writing = asyncio.create_task(write())
    answer, reset = b"", False
    answered = sent_at_answer = None
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), 10):
            if not answer:
                answered, sent_at_answer = loop.time() - started, sent
            answer += chunk
    except ConnectionResetError:
        # The server closed with one of our bytes unread, so its kernel sent a reset.
        reset = True
    eof = loop.time() - started
    writing.cancel()
    writer.close()
    return {"answer": answer, "answered": answered, "eof": eof, "sent": sent_at_answer, "reset": reset}


def test_a_request_sent_one_byte_at_a_time_is_cut_with_408_at_the_timeout(run):
    async def scenario():
        async with AsyncTestClient(echo_api(handshake_timeout=TIMEOUT)) as client:
            outcome = await trickle(client.port, upgrade_request("/echo"), STEP)
            await asyncio.sleep(0.05)
            return outcome, len(client.server.sessions)

    outcome, sessions = run(scenario())
    report(
        f"slow handshake: one byte every 0.3 s, handshake_timeout 1.5 s ({run.loop_name})",
        answered_after_s=round(outcome["answered"], 3),
        tcp_closed_after_s=round(outcome["eof"], 3),
        bytes_sent_before_cut=outcome["sent"],
    )
    assert outcome["answer"].startswith(b"HTTP/1.1 408 ")
    # Progress does not extend the deadline: it is counted from the connection.
    assert TIMEOUT - 0.05 <= outcome["answered"] <= TIMEOUT + 0.5
    assert outcome["eof"] - outcome["answered"] < 0.5  # and TCP is closed with the answer
    assert outcome["sent"] < len(upgrade_request("/echo"))
    assert sessions == 0


def test_a_slow_request_that_completes_before_the_timeout_is_served(run):
    request = upgrade_request("/echo")
    timeout = 0.8
    pieces = [request[i : i + 8] for i in range(0, len(request), 8)]
    delay = 0.5 / len(pieces)  # the whole request in about 0.5 s, under the timeout

    async def scenario():
        async with AsyncTestClient(echo_api(handshake_timeout=timeout)) as client:
            reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
            for piece in pieces:
                writer.write(piece)
                await asyncio.sleep(delay)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            await asyncio.sleep(timeout)  # past the deadline: an open connection is not cut by it
            writer.write(b"\x81\x82\x00\x00\x00\x00hi")  # "hi", masked with a zero key
            echo = await asyncio.wait_for(reader.readexactly(4), 5)
            writer.close()
            return head, echo

    head, echo = run(scenario())
    assert head.startswith(b"HTTP/1.1 101 ") and echo == b"\x81\x02hi"


def test_hundreds_of_slow_handshakes_are_all_cut_on_time_without_stalling_a_working_client(run):
    count = 300

    async def scenario():
        async with AsyncTestClient(echo_api(handshake_timeout=TIMEOUT)) as client:
            async with Prober(client.port) as prober:
                outcomes = await asyncio.gather(*(trickle(client.port, upgrade_request("/echo"), STEP) for _ in range(count)))
                probe = await prober.stop()
            await asyncio.sleep(0.05)
            return outcomes, probe, len(client.server.sessions)

    outcomes, probe, sessions = run(scenario())
    assert all(outcome["answer"].startswith(b"HTTP/1.1 408 ") for outcome in outcomes)
    answered = [outcome["answered"] for outcome in outcomes]
    report(
        f"{count} slow handshakes at once ({run.loop_name})",
        first_cut_s=round(min(answered), 3),
        last_cut_s=round(max(answered), 3),
        closed_by_reset=sum(outcome["reset"] for outcome in outcomes),
        working_client=probe.summary(),
    )
    assert TIMEOUT - 0.05 <= min(answered) and max(answered) <= TIMEOUT + 1.0
    assert sessions == 0
    assert probe.latencies and probe.percentile(0.99) < 0.5
