"""bolt's server judged by Node's ``ws`` package: ``node/client.mjs`` runs one case per call and
prints its result as JSON. ``npm ci --prefix tests/interop/node`` installs ws (``.ci/run`` does)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.interop.cases import BIG, CLOSE_CODES, KIB, MIB, SIZES, close_reason
from tests.interop.conftest import find_executable, require_runtime
from tests.interop.wire import WireTap, assert_compressed

NODE_DIR = Path(__file__).parent / "node"
SCRIPT = NODE_DIR / "client.mjs"


@pytest.fixture(scope="module")
def node():
    executable = find_executable("node", "nodejs")
    require_runtime("node", executable, "install Node.js")
    require_runtime(
        "Node's ws package", (NODE_DIR / "node_modules" / "ws" / "package.json").is_file(), "run npm ci --prefix tests/interop/node"
    )
    return executable


def run_case(node, server, name: str, **args):
    completed = subprocess.run(
        [node, str(SCRIPT), f"ws://{server.host}:{server.port}", name, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=90,
    )
    lines = completed.stdout.strip().splitlines()
    assert lines, f"node printed nothing (exit {completed.returncode}): {completed.stderr}"
    outcome = json.loads(lines[-1])
    assert "error" not in outcome, outcome["error"] + completed.stderr
    assert completed.returncode == 0, completed.stderr
    return outcome["result"]


@pytest.mark.parametrize("kind", ["text", "binary", "json"])
def test_echo(node, server, kind):
    sizes = [size for size in SIZES if (kind, size) != ("json", 0)]
    results = run_case(node, server, "echo", kind=kind, sizes=sizes)
    assert results == [{"size": size, "ok": True, "closed": 1000} for size in sizes]


@pytest.mark.parametrize("kind", ["text", "binary"])
def test_echo_16_mib(node, server, kind):
    assert run_case(node, server, "echo", kind=kind, sizes=[BIG]) == [{"size": BIG, "ok": True, "closed": 1000}]


def test_fragmented_messages_are_reassembled_by_bolt(node, server):
    assert run_case(node, server, "fragments") == {"text": True, "binary": True, "pong": True, "interleaved": True, "closed": 1000}


def test_fragments_sent_by_bolt_are_reassembled(node, fragmenting_server):
    assert run_case(node, fragmenting_server, "fragmentsFromBolt") == {"text": True, "binary": True, "closed": 1000}


def test_client_ping_gets_its_pong(node, server):
    assert run_case(node, server, "ping") == {"pongs": [True, True, True], "closed": 1000}


def test_server_ping_is_answered(node, server):
    assert run_case(node, server, "serverPing") == {"ping": "bolt-ping", "message": "pong: bolt-ping", "closed": 1000}


def test_close_codes_sent_by_bolt(node, server):
    reasons = [close_reason(code) for code in CLOSE_CODES]
    results = run_case(node, server, "closeByServer", codes=CLOSE_CODES, reasons=reasons)
    assert results == [{"kind": "close", "code": code, "reason": reason} for code, reason in zip(CLOSE_CODES, reasons)]


def test_close_codes_sent_by_the_client(node, server):
    reasons = [close_reason(code) for code in CLOSE_CODES]
    results = run_case(node, server, "closeByClient", codes=CLOSE_CODES, reasons=reasons, prefix="node")
    # bolt answers each close with the client's code (RFC 6455 §5.5.1), which ws reports.
    assert [(result["ready"], result["kind"], result["code"]) for result in results] == [
        ("ready", "close", code) for code in CLOSE_CODES
    ]
    for code, reason in zip(CLOSE_CODES, reasons):
        assert server.recorder.wait(f"node-{code}") == (code, reason)


def test_close_without_a_code_is_1005_for_the_handler(node, server):
    # ws reports 1005 for bolt's answering close, which has no code either.
    result = run_case(node, server, "closeWithoutCode", key="node-none")
    assert result == {"ready": "ready", "kind": "close", "code": 1005, "reason": ""}
    assert server.recorder.wait("node-none") == (1005, "")


def test_close_before_accept_reaches_the_client(node, server):
    assert run_case(node, server, "closeBeforeAccept") == {"kind": "close", "code": 4001, "reason": "Invalid token"}


# ws aborts a 101 that picks no subprotocol when it offered some ("Server sent no subprotocol",
# stricter than RFC 6455), so the ["other"] case of the Python peers is not asked of it.
@pytest.mark.parametrize(("offered", "chosen"), [(["chat.v1"], "chat.v1"), (["other", "chat.v2", "chat.v1"], "chat.v2"), ([], "")])
def test_subprotocol_negotiation(node, server, offered, chosen):
    assert run_case(node, server, "subprotocol", offered=offered) == {"protocol": chosen, "said": chosen, "closed": 1000}


@pytest.mark.parametrize(("path", "status"), [("/nowhere", 404), ("/forbidden", 403)])
def test_refused_handshake_is_an_http_status(node, server, path, status):
    assert run_case(node, server, "refused", path=path)["status"] == status


def test_permessage_deflate(node, server):
    """ws with ``perMessageDeflate: true`` negotiates with bolt, and 64 KiB and 1 MiB of text and
    of random bytes round-trip; on the wire, both ends compressed the text."""
    sizes = [64 * KIB, MIB]
    with WireTap(server.port) as tap:
        outcome = run_case(node, tap, "deflateEcho", sizes=sizes)
    assert outcome == {
        "extensions": "permessage-deflate",
        "header": "permessage-deflate",  # bolt's defaults: a 15-bit window, nothing to ask
        "results": [{"size": size, "kind": kind, "ok": True} for size in sizes for kind in ("text", "binary")],
        "closed": 1000,
    }
    assert tap.last.up.header("Sec-WebSocket-Extensions") == "permessage-deflate; client_max_window_bits"
    up, down = tap.last.up.messages(), tap.last.down.messages()
    assert len(up) == len(down) == 4
    for index in (0, 2):  # the texts
        assert_compressed(up[index], sizes[index // 2], at_most=0.05)
        assert_compressed(down[index], sizes[index // 2], at_most=0.05)
