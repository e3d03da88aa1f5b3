"""Fixtures for the interoperability tests: bolt servers on 127.0.0.1 (port 0), each on its own
event loop in a background thread, so that any client, synchronous or asynchronous, in this
process or in a subprocess (node, chromium), can talk to it.

``server`` runs ``tests.interop.app`` on stock asyncio and on uvloop; ``fragmenting_server`` runs
the same app with ``fragment_size`` set, so that every message longer than that reaches the client
in fragments. ``require_runtime`` skips a peer whose runtime is missing, except in CI (``CI`` set),
where a missing peer is a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading

import pytest

from bolt.transport.run import new_event_loop
from bolt.transport.server import Server
from tests.interop.app import make_api

LOOPS = ["asyncio", "uvloop"]
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def require_runtime(what: str, found: object, hint: str) -> None:
    """Skip (locally) or fail (in CI) when ``found`` is falsy."""
    if found:
        return
    message = f"{what} is not available: {hint}"
    if IN_CI:
        pytest.fail(f"{message} (CI must run every peer)")
    pytest.skip(message)


def find_executable(*names: str) -> str | None:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


class ServerThread:
    """A bolt ``Server`` on a loop of its own in a daemon thread."""

    def __init__(self, api, loop: str = "asyncio") -> None:
        self.api = api
        self.loop_name = loop
        self.host = "127.0.0.1"
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None

    def start(self) -> ServerThread:
        self._loop = new_event_loop(self.loop_name)
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"bolt-interop-{self.loop_name}", daemon=True)
        self._thread.start()
        self._server = Server(self.api, self.api.settings)
        (self.host, self.port, *_), *_ = self.call(self._server.start("127.0.0.1", 0))
        return self

    def call(self, coroutine, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def stop(self) -> None:
        try:
            self.call(self._server.shutdown(timeout=2.0))
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    @property
    def recorder(self):
        return self.api.recorder

    def url(self, path: str) -> str:
        return f"ws://{self.host}:{self.port}{path}"

    def http_url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"


def _loop_available(name: str) -> None:
    try:
        new_event_loop(name).close()
    except ImportError:
        pytest.skip(f"{name} is not installed")


@pytest.fixture(scope="module", params=LOOPS)
def server(request):
    """``tests.interop.app`` served by bolt, once per module and event loop."""
    _loop_available(request.param)
    running = ServerThread(make_api(), request.param).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def fragmenting_server():
    """The same app, sending every message in fragments of 1,000 bytes (stock asyncio), with
    compression off, so that the fragments can be counted from the message's length."""
    running = ServerThread(make_api(fragment_size=1000, compression=False), "asyncio").start()
    yield running
    running.stop()
