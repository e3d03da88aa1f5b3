"""bolt's server judged by a real browser: Debian's headless Chromium, driven through the DevTools
protocol (CDP).

CDP is spoken over a WebSocket with the ``websockets`` client (its synchronous API), not with
bolt's own client and not with playwright-core: a failure here must point at bolt's server or at
the browser, never at the tool driving the browser, and ``websockets`` is the reference Python
client already in the test extra. playwright-core would add a Node runner and pins the Chromium
revisions it supports, while Debian's chromium moves on its own. (``test_bolt_client_drives_devtools``
at the end does point bolt's client at Chromium's DevTools server, as one more peer.)

The page's own ``WebSocket`` does the talking: ``chromium_page.js`` (window.interop) runs each case
inside the page and returns a small JSON verdict, so megabytes never cross CDP.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from websockets.sync.client import connect as sync_connect

import bolt
from tests.interop.cases import BIG, BROWSER_CLOSE_CODES, CLOSE_CODES, SIZES, close_reason
from tests.interop.conftest import ServerThread, find_executable, require_runtime
from tests.interop.wire import WireTap, assert_compressed

PAGE_SCRIPT = (Path(__file__).parent / "chromium_page.js").read_text(encoding="utf-8")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--remote-debugging-port=0",
]


class CDPError(Exception):
    pass


class DevTools:
    """One CDP connection to the browser; pages are sessions on it (``flatten``)."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self._next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60.0) -> dict:
        self._next_id += 1
        call_id = self._next_id
        message = {"id": call_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            data = json.loads(self.ws.recv(timeout=max(0.0, deadline - time.monotonic())))
            if data.get("id") == call_id:
                if "error" in data:
                    raise CDPError(f"{method}: {data['error']}")
                return data["result"]
            if "method" in data:
                self.events.append(data)



class Page:
    """A tab: navigate, evaluate (awaiting promises), poll for a condition."""

    def __init__(self, devtools: DevTools) -> None:
        self.devtools = devtools
        self.target = devtools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = devtools.send("Target.attachToTarget", {"targetId": self.target, "flatten": True})["sessionId"]

    def call(self, method: str, params: dict | None = None, timeout: float = 60.0) -> dict:
        return self.devtools.send(method, params, self.session, timeout)

    def evaluate(self, expression: str, timeout: float = 60.0):
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True}, timeout=timeout
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CDPError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    def wait_for(self, condition: str, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(condition)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"never true in the page: {condition}")
            time.sleep(0.05)

    def goto(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})
        self.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'")

    def close(self) -> None:
        self.devtools.send("Target.closeTarget", {"targetId": self.target})


@pytest.fixture(scope="module")
def devtools(tmp_path_factory):
    executable = find_executable("chromium", "chromium-browser")
    require_runtime("chromium", executable, "apt-get install chromium")
    profile = tmp_path_factory.mktemp("chromium-profile")
    log_path = tmp_path_factory.mktemp("chromium-log") / "chromium.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and len(port_file.read_text().splitlines()) >= 2):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chromium did not start: {log_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        with sync_connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=10) as ws:
            connection = DevTools(ws)
            connection.url = f"ws://127.0.0.1:{port}{path}"
            yield connection
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()


@pytest.fixture
def page(devtools, server):
    """A tab on the interop server's blank page (an http:// origin), with window.interop loaded."""
    tab = Page(devtools)
    tab.goto(server.http_url("/"))
    tab.evaluate(PAGE_SCRIPT)
    yield tab
    tab.close()


def js(function: str, *args) -> str:
    return f"interop.{function}({', '.join(json.dumps(arg) for arg in args)})"


@pytest.mark.parametrize("kind", ["text", "binary", "json"])
def test_echo(page, server, kind):
    base = server.url("")
    sizes = [size for size in SIZES if (kind, size) != ("json", 0)]
    results = [page.evaluate(js("echo", base, kind, size)) for size in sizes]
    assert results == [{"size": size, "ok": True, "closed": 1000} for size in sizes]


@pytest.mark.parametrize("kind", ["text", "binary"])
def test_echo_16_mib(page, server, kind):
    assert page.evaluate(js("echo", server.url(""), kind, BIG)) == {"size": BIG, "ok": True, "closed": 1000}


def test_fragments_sent_by_bolt_are_reassembled(devtools, fragmenting_server):
    tab = Page(devtools)
    try:
        tab.goto(fragmenting_server.http_url("/"))
        tab.evaluate(PAGE_SCRIPT)
        for kind in ("text", "binary"):
            assert tab.evaluate(js("echo", fragmenting_server.url(""), kind, 100_000)) == {"size": 100_000, "ok": True, "closed": 1000}
    finally:
        tab.close()


def test_server_ping_is_answered(page, server):
    assert page.evaluate(js("serverPing", server.url("/server-ping"))) == {"message": "pong: bolt-ping", "closed": 1000}


def test_close_codes_sent_by_bolt(page, server):
    for code in CLOSE_CODES:
        event = page.evaluate(js("firstClose", server.url(f"/close/{code}?reason={quote(close_reason(code))}")))
        assert event == {"opened": True, "code": code, "reason": close_reason(code), "wasClean": True}, code


def test_close_codes_sent_by_the_page(page, server):
    # A page may only send 1000 and 3000-4999 (WHATWG WebSocket.close()).
    for code in BROWSER_CLOSE_CODES:
        key = f"chromium-{code}"
        event = page.evaluate(js("closeByClient", server.url(f"/record/{key}"), code, close_reason(code)))
        assert event == {"ready": "ready", "code": code, "wasClean": True}
        assert server.recorder.wait(key) == (code, close_reason(code))


def test_close_without_a_code_is_1005_for_the_handler(page, server):
    # close() with no code sends a close frame with no payload; bolt's empty answer is 1005 too.
    event = page.evaluate(js("closeByClient", server.url("/record/chromium-none"), None, None))
    assert event == {"ready": "ready", "code": 1005, "wasClean": True}
    assert server.recorder.wait("chromium-none") == (1005, "")


def test_close_4001_before_accept_reaches_the_page(page, server):
    event = page.evaluate(js("firstClose", server.url("/token?token=wrong")))
    assert event == {"opened": True, "code": 4001, "reason": "Invalid token", "wasClean": True}


# Chromium fails a 101 that picks no subprotocol when the page offered some (as ws does), so the
# ["other"] case of the Python peers is not asked of it.
@pytest.mark.parametrize(
    ("offered", "expected"),
    [
        (["chat.v1"], {"protocol": "chat.v1", "said": "chat.v1", "closed": 1000}),
        (["other", "chat.v2", "chat.v1"], {"protocol": "chat.v2", "said": "chat.v2", "closed": 1000}),
        ([], {"protocol": "", "said": "", "closed": 1000}),
    ],
)
def test_subprotocol_negotiation(page, server, offered, expected):
    assert page.evaluate(js("subprotocol", server.url("/subprotocol"), offered)) == expected


@pytest.mark.parametrize(("path", "status"), [("/nowhere", 404), ("/forbidden", 403)])
def test_refused_handshake_is_an_http_status(page, server, path, status):
    # A page is not allowed to tell a refused handshake from a dropped connection (it sees 1006);
    # DevTools' network log shows the status the browser received.
    page.call("Network.enable")
    event = page.evaluate(js("firstClose", server.url(path)))
    assert event == {"opened": False, "code": 1006, "reason": "", "wasClean": False}
    page.evaluate("1")  # a round trip, so the network events have arrived
    created = [e["params"]["requestId"] for e in page.devtools.events if e["method"] == "Network.webSocketCreated" and e["params"]["url"] == server.url(path)]
    errors = [
        e["params"]["errorMessage"]
        for e in page.devtools.events
        if e["method"] == "Network.webSocketFrameError" and e["params"]["requestId"] in created
    ]
    assert errors == [f"Error during WebSocket handshake: Unexpected response code: {status}"]


def test_permessage_deflate(page, server):
    """The page's WebSocket negotiates permessage-deflate with bolt (ws.extensions names it), and
    64 KiB and 1 MiB of text and of random bytes round-trip; on the wire, both ends compressed the
    text. The page talks through a WireTap (another port: a WebSocket is not bound by the origin)."""
    sizes = [64 * 1024, 1024 * 1024]
    with WireTap(server.port) as tap:
        outcome = page.evaluate(js("deflateEcho", tap.url("/echo"), sizes))
    assert outcome == {
        "extensions": "permessage-deflate",  # bolt's defaults: a 15-bit window, nothing to ask
        "results": [{"size": size, "kind": kind, "ok": True} for size in sizes for kind in ("text", "binary")],
        "closed": 1000,
    }
    assert tap.last.up.header("Sec-WebSocket-Extensions") == "permessage-deflate; client_max_window_bits"
    up, down = tap.last.up.messages(), tap.last.down.messages()
    assert len(up) == len(down) == 4
    for index in (0, 2):  # the texts
        assert_compressed(up[index], sizes[index // 2], at_most=0.05)
        assert_compressed(down[index], sizes[index // 2], at_most=0.05)


# The chat demo (examples/chat.py and its page), as a person would use it: two tabs in one room.


@pytest.fixture(scope="module")
def chat_server():
    from examples.chat import api

    running = ServerThread(api, "asyncio").start()
    yield running
    running.stop()


def chat_tab(devtools: DevTools, chat_server) -> Page:
    tab = Page(devtools)
    tab.goto(chat_server.http_url("/"))
    return tab


def join(tab: Page, room: str, name: str) -> None:
    tab.evaluate(
        "(() => { const form = document.getElementById('join');"
        f" form.room.value = {json.dumps(room)}; form.elements.name.value = {json.dumps(name)};"
        " form.requestSubmit(); })()"
    )


def say(tab: Page, text: str) -> None:
    tab.evaluate(
        f"(() => {{ const form = document.getElementById('say'); form.text.value = {json.dumps(text)}; form.requestSubmit(); }})()"
    )


LOG = "[...document.querySelectorAll('#log li')].map((item) => item.textContent)"
MEMBERS = "[...document.querySelectorAll('#members li')].map((item) => item.textContent)"
STATUS = "document.getElementById('status').textContent"


def test_chat_demo_two_pages_in_one_room(devtools, chat_server):
    alice, bob = chat_tab(devtools, chat_server), chat_tab(devtools, chat_server)
    try:
        join(alice, "interop", "alice")
        alice.wait_for(f"{STATUS}.startsWith('Connected')")
        join(bob, "interop", "bob")
        bob.wait_for(f"{STATUS} === 'Connected to room \"interop\" as bob.'")
        for tab in (alice, bob):
            tab.wait_for(f"JSON.stringify({MEMBERS}) === JSON.stringify(['alice', 'bob'])")
        alice.wait_for(f"{LOG}.includes('bob joined')")

        say(alice, "hello from alice")
        say(bob, "bonjour alice, ça va ? 👋")
        for tab in (alice, bob):
            tab.wait_for(f"{LOG}.includes('alice: hello from alice')")
            tab.wait_for(f"{LOG}.includes('bob: bonjour alice, ça va ? 👋')")

        bob.evaluate("document.getElementById('leave').click()")
        alice.wait_for(f"{LOG}.includes('bob left')")
        alice.wait_for(f"JSON.stringify({MEMBERS}) === JSON.stringify(['alice'])")
        bob.wait_for(f"{STATUS}.startsWith('Disconnected (code 1000')")
        assert bob.evaluate(f"{LOG}.at(-1)").startswith("Connection closed with code 1000")
    finally:
        alice.close()
        bob.close()


def test_chat_demo_shows_the_close_reason_of_a_refused_name(devtools, chat_server):
    tab = chat_tab(devtools, chat_server)
    try:
        join(tab, "interop", "n" * 40)  # past the input's maxlength, as a script could
        tab.wait_for(f"{STATUS}.startsWith('Disconnected')")
        assert tab.evaluate(STATUS) == "Disconnected (code 1008: name is longer than 32 characters)."
    finally:
        tab.close()


def test_bolt_client_drives_devtools(devtools):
    """One more peer for bolt's client: Chromium's own WebSocket server (the DevTools endpoint)."""

    async def scenario():
        async with bolt.connect(devtools.url) as ws:
            await ws.send_text(json.dumps({"id": 1, "method": "Browser.getVersion"}))
            version = json.loads(await ws.receive_text())
            await ws.send_text(json.dumps({"id": 2, "method": "Target.getTargets"}))
            targets = json.loads(await ws.receive_text())
            return version, targets

    version, targets = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert version["id"] == 1 and "Chrome" in version["result"]["product"]
    assert targets["id"] == 2 and isinstance(targets["result"]["targetInfos"], list)
