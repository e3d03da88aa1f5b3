"""``python -m bolt`` when it cannot serve: one clear line on stderr and a non-zero exit, never a
traceback and exit 0; and a worker that dies stops the whole server with a non-zero exit."""

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

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 15


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cli(target: str, *arguments: str, stderr) -> tuple[subprocess.Popen, int]:
    port = free_port()
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    environment.pop("BOLT_JWT_SECRET", None)
    command = [sys.executable, "-m", "bolt", target, "--port", str(port), "--log-level", "warning", *arguments]
    return subprocess.Popen(command, cwd=ROOT, env=environment, stderr=stderr), port


def finish(process: subprocess.Popen) -> int:
    try:
        return process.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(TIMEOUT)
        pytest.fail(f"the CLI did not exit within {TIMEOUT} s")


def lines_of(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_app_that_cannot_be_served_is_one_line_and_a_failure(tmp_path, workers):
    stderr = tmp_path / "stderr"
    with stderr.open("w") as sink:
        process, _ = cli("tests.cli_app:unconfigured", "--workers", workers, stderr=sink)
        code = finish(process)
    lines = lines_of(stderr)
    assert code == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith("bolt: cannot serve tests.cli_app:unconfigured: JWTAuthentication has no secret")
    assert "BOLT_JWT_SECRET" in lines[0]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("tests.no_such_module:api", "bolt: cannot import tests.no_such_module: No module named 'tests.no_such_module'"),
        ("tests.cli_app:no_such_api", "bolt: module tests.cli_app has no attribute 'no_such_api'"),
        ("tests.cli_app", "bolt: expected module:attribute, such as examples.chat:api, not 'tests.cli_app'"),
    ],
)
def test_a_target_that_does_not_load_is_one_line_and_a_failure(tmp_path, target, expected):
    stderr = tmp_path / "stderr"
    with stderr.open("w") as sink:
        process, _ = cli(target, stderr=sink)
        code = finish(process)
    assert code == 2
    assert lines_of(stderr) == [expected]


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def children(pid: int) -> set[int]:
    """The pids of ``pid``'s children where Linux lists them (else none): kept to be killed if
    the test fails, so that no worker outlives it."""
    try:
        return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


async def worker_pids(port: int) -> set[int]:
    """Both workers' pids: connections spread over the two listening sockets (see test_cli)."""
    pids: set[int] = set()
    for _ in range(40):
        async with websockets.connect(f"ws://127.0.0.1:{port}/pid", open_timeout=5) as peer:
            pids.add(int(await asyncio.wait_for(peer.recv(), 5)))
        if len(pids) == 2:
            break
    return pids


async def call_exit(port: int) -> None:
    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}/exit", open_timeout=5):
            pass
    except (OSError, websockets.exceptions.WebSocketException):
        pass  # the worker died during the handshake, as it was asked to


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="workers need SO_REUSEPORT")
@pytest.mark.parametrize("death", ["killed", "exits"])
def test_a_worker_that_dies_stops_the_server(tmp_path, death):
    stderr = tmp_path / "stderr"
    pids: set[int] = set()
    with stderr.open("w") as sink:
        process, port = cli("tests.cli_app:api", "--workers", "2", stderr=sink)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not listening(port):
            assert process.poll() is None and time.monotonic() < deadline, "the server did not start listening"
            time.sleep(0.05)
        pids = children(process.pid)
        pids = asyncio.run(worker_pids(port)) | pids
        assert len(pids) == 2 and process.pid not in pids
        if death == "killed":
            victim = min(pids)
            os.kill(victim, signal.SIGKILL)
            expected = f"worker {victim} was killed by signal {signal.SIGKILL.value}"
        else:
            asyncio.run(call_exit(port))
            expected = "exited with code 3"
        code = finish(process)
        reports = [line for line in lines_of(stderr) if " ERROR " in line and "worker" in line]
        assert code != 0
        assert len(reports) == 1 and expected in reports[0], reports
        assert any(f"worker {pid} " in reports[0] for pid in pids)
        # The surviving worker was stopped: nothing serves the port, no worker is left.
        deadline = time.monotonic() + TIMEOUT
        while (listening(port) or any(alive(pid) for pid in pids)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not listening(port) and not any(alive(pid) for pid in pids)
    finally:
        for pid in [process.pid, *pids]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        process.wait(TIMEOUT)
