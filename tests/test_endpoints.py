"""Which TCP transport a connection gets (bolt.transport.endpoints): aiofastnet's compiled one on a
stock asyncio loop when it is installed, the loop's own otherwise, as ``Settings.transport`` and
``BOLT_TRANSPORT`` say; and each of them carries a real connection on each loop."""

from __future__ import annotations

import asyncio
import sys

import pytest

import bolt
from bolt import BoltAPI, Settings, WebSocket
from bolt.exceptions import ConfigurationError
from bolt.testing import AsyncTestClient
from bolt.transport import endpoints
from bolt.transport.run import new_event_loop, run

aiofastnet = pytest.importorskip("aiofastnet")


@pytest.fixture(autouse=True)
def no_override(monkeypatch):
    monkeypatch.delenv("BOLT_TRANSPORT", raising=False)


def test_the_loops_own_by_default_and_aiofastnet_when_asked():
    assert endpoints.choose("auto") is None
    assert endpoints.choose("loop") is None
    assert endpoints.choose("aiofastnet") is aiofastnet


def test_the_environment_decides_auto_only(monkeypatch):
    monkeypatch.setenv("BOLT_TRANSPORT", "aiofastnet")
    assert endpoints.choose("auto") is aiofastnet
    assert endpoints.choose("loop") is None
    monkeypatch.setenv("BOLT_TRANSPORT", "fast")
    with pytest.raises(ConfigurationError, match="BOLT_TRANSPORT"):
        endpoints.choose("auto")


def test_without_aiofastnet_a_demand_for_it_refuses_to_start(monkeypatch):
    monkeypatch.setitem(sys.modules, "aiofastnet", None)  # import aiofastnet raises ImportError
    assert endpoints.choose("auto") is None
    with pytest.raises(ConfigurationError, match="pip install"):
        endpoints.choose("aiofastnet")
    monkeypatch.setenv("BOLT_TRANSPORT", "aiofastnet")
    with pytest.raises(ConfigurationError, match="pip install"):
        endpoints.choose("auto")
    api = BoltAPI(transport="aiofastnet")
    with pytest.raises(ConfigurationError, match="pip install"):
        run(api, "127.0.0.1", 0)  # refused before it listens (and before it would fork)


def test_a_setting_that_is_not_a_transport_is_refused():
    with pytest.raises(ValueError, match="transport"):
        Settings(transport="fast")


def echo_api() -> BoltAPI:
    api = BoltAPI()

    @api.websocket("/echo")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        transport = type(websocket._session.transport)
        await websocket.send_text(f"{transport.__module__}.{transport.__name__}")
        async for message in websocket:
            await websocket.send(message)

    return api


@pytest.mark.parametrize(
    ("loop_kind", "setting", "module"),
    [
        ("asyncio", "auto", "asyncio"),
        ("asyncio", "aiofastnet", "aiofastnet"),
        ("uvloop", "auto", "uvloop"),
        ("uvloop", "aiofastnet", "aiofastnet"),
    ],
)
def test_each_transport_carries_a_connection_both_ways(loop_kind, setting, module):
    """The server's transport is the one chosen; the bolt client on the same setting talks to it;
    a large message (sent apart from its header, received into its own object) and a pipeline of
    small ones come back whole."""
    if loop_kind == "uvloop":
        pytest.importorskip("uvloop")
    settings = Settings(transport=setting)

    async def main():
        async with AsyncTestClient(echo_api(), settings=settings) as client, bolt.connect(
            f"ws://127.0.0.1:{client.port}/echo", settings=settings
        ) as ws:
            kind = await ws.receive_text()
            large = bytes(range(256)) * 4096
            await ws.send_bytes(large)
            assert await ws.receive_bytes() == large
            for index in range(50):
                await ws.send_text(f"message {index}")
            assert [await ws.receive_text() for _ in range(50)] == [f"message {index}" for index in range(50)]
            return kind

    with asyncio.Runner(loop_factory=lambda: new_event_loop(loop_kind)) as runner:
        kind = runner.run(asyncio.wait_for(main(), 20))
    assert kind.startswith(module), kind
