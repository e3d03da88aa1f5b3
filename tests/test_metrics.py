"""Prometheus metrics: a scripted session against a real server, then the exposition parsed by
prometheus_client's own parser, every series at the value the script implies; labelled by route
template, never by raw path; served on the API's port and on a separate one."""

from __future__ import annotations

import asyncio
import socket

import pytest
import websockets
from websockets.exceptions import InvalidStatus

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from bolt import BoltAPI, WebSocket  # noqa: E402
from bolt.testing import AsyncTestClient, http_get  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scripted_api(metrics_port: int) -> BoltAPI:
    api = BoltAPI()
    api.metrics("/metrics", port=metrics_port)

    @api.websocket("/ws/echo/{name}", allowed_origins=["https://app.example"])
    async def echo(websocket: WebSocket, name: str):
        await websocket.accept()
        await websocket.join("everyone")
        await websocket.ping()  # one ping out, one pong back, one round trip observed
        async for message in websocket:
            if message == "broadcast":
                await api.broadcast("everyone", "to all")
            else:
                await websocket.send(message)

    @api.websocket("/ws/fail")
    async def fail(websocket: WebSocket):
        await websocket.accept()
        await websocket.receive_text()
        raise RuntimeError("a handler bug")

    return api


def samples(text: str) -> dict[tuple, float]:
    """{(name, sorted labels...): value} for every sample of the exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, *sorted(sample.labels.items()))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found[(name, *sorted(labels.items()))]


def test_a_scripted_session_shows_in_every_series(run):
    port = free_port()
    api = scripted_api(port)
    route = "/ws/echo/{name}"

    async def main_all():
        async with AsyncTestClient(api) as client:
            async with websockets.connect(client.url("/ws/echo/alice"), compression=None) as alice:
                for text in ("one", "two", "three"):
                    await alice.send(text)
                    await alice.recv()
                await alice.send(b"\x00" * 10)
                await alice.recv()
                await alice.ping()
                await alice.send("broadcast")
                assert await alice.recv() == "to all"
                during = samples((await http_get("127.0.0.1", client.port, "/metrics")).body.decode())
            with pytest.raises(InvalidStatus):
                await websockets.connect(client.url("/ws/echo/bob"), origin="https://evil.example")
            with pytest.raises(InvalidStatus):
                await websockets.connect(client.url("/nowhere"))
            async with websockets.connect(client.url("/ws/fail")) as failing:
                await failing.send("go")
                await failing.wait_closed()
            await asyncio.sleep(0.2)  # the handlers' ends are counted as they finish
            after = samples((await http_get("127.0.0.1", client.port, "/metrics")).body.decode())
            separate = samples((await http_get("127.0.0.1", port, "/metrics")).body.decode())
        return during, after, separate

    during, after, separate = run(main_all())

    # While alice was connected.
    assert value(during, "bolt_connections_open", route=route) == 1
    assert value(during, "bolt_group_members") == 1
    # After everything.
    assert value(after, "bolt_connections_open", route=route) == 0
    assert value(after, "bolt_group_members") == 0
    assert value(after, "bolt_handshakes_total", route=route, status="101") == 1
    assert value(after, "bolt_handshakes_total", route=route, status="403") == 1  # the origin
    assert value(after, "bolt_handshakes_total", route="", status="404") == 1
    assert value(after, "bolt_handshakes_total", route="/ws/fail", status="101") == 1
    assert value(after, "bolt_messages_total", route=route, direction="in", type="text") == 4
    assert value(after, "bolt_messages_total", route=route, direction="in", type="binary") == 1
    assert value(after, "bolt_messages_total", route=route, direction="out", type="text") == 4  # 3 echoes, 1 broadcast
    assert value(after, "bolt_messages_total", route=route, direction="out", type="binary") == 1
    assert value(after, "bolt_message_bytes_total", route=route, direction="in", type="text") == 3 + 3 + 5 + 9
    assert value(after, "bolt_message_bytes_total", route=route, direction="out", type="text") == 3 + 3 + 5 + 6
    assert value(after, "bolt_message_bytes_total", route=route, direction="in", type="binary") == 10
    assert value(after, "bolt_pings_total", route=route, direction="in") == 1
    assert value(after, "bolt_pings_total", route=route, direction="out") == 1
    assert value(after, "bolt_pongs_received_total", route=route) == 1
    assert value(after, "bolt_pong_rtt_seconds_count", route=route) == 1
    assert value(after, "bolt_pong_rtt_seconds_bucket", route=route, le="+Inf") == 1
    assert value(after, "bolt_closes_total", route=route, code="1000", side="client") == 1
    assert value(after, "bolt_closes_total", route="/ws/fail", code="1011", side="server") == 1
    assert value(after, "bolt_handler_exceptions_total", route="/ws/fail") == 1
    assert value(after, "bolt_broadcasts_total") == 1
    assert value(after, "bolt_broadcast_dropped_total", reason="slow_member") == 0
    # No series is labelled with a raw path.
    assert not any(dict(key[1:]).get("route") in ("/ws/echo/alice", "/ws/echo/bob", "/nowhere") for key in after)
    # The separate listener serves the same figures.
    assert value(separate, "bolt_handshakes_total", route=route, status="101") == 1


def test_metrics_need_their_extra_and_cost_nothing_unless_asked(monkeypatch):
    api = BoltAPI()
    assert api._tally is None  # nothing is counted for metrics nobody mounted
    import builtins

    real_import = builtins.__import__

    def no_prometheus(name, *args, **kwargs):
        if name.startswith("prometheus_client"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_prometheus)
    from bolt.auth import ConfigurationError

    with pytest.raises(ConfigurationError, match="bolt-ws\\[metrics\\]"):
        api.metrics()


def test_your_own_metrics_beside_bolts_in_one_registry():
    registry = prometheus_client.CollectorRegistry()
    mine = prometheus_client.Counter("my_things", "mine", registry=registry)
    mine.inc(3)
    api = BoltAPI()
    assert api.metrics("/metrics", registry=registry) is registry
    text = prometheus_client.generate_latest(registry).decode()
    assert "my_things_total 3.0" in text and "bolt_group_members" in text


def test_a_request_that_does_not_parse_is_counted_and_breaks_nothing(run):
    api = BoltAPI()
    api.metrics("/metrics")

    async def main():
        async with AsyncTestClient(api) as client:
            reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
            writer.write(b"NOT HTTP AT ALL\r\n\r\n")
            answer = await reader.read()
            writer.close()
            found = samples((await http_get("127.0.0.1", client.port, "/metrics")).body.decode())
            return answer, found

    answer, found = run(main())
    assert answer.startswith(b"HTTP/1.1 400")
    assert value(found, "bolt_handshakes_total", route="", status="400") == 1
