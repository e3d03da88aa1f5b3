"""``python -m bolt module:api``: one process, or workers sharing the port, and SIGTERM shutdown."""

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(*arguments: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bolt", "tests.cli_app:api", "--port", str(port), "--log-level", "warning", *arguments],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}")
            time.sleep(0.05)
    process.kill()
    pytest.fail("the server did not start listening")


async def serving_pids(port: int, connections: int) -> set[str]:
    pids = set()
    for _ in range(connections):
        async with websockets.connect(f"ws://127.0.0.1:{port}/pid") as peer:
            pids.add(await peer.recv())
    return pids


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the server did not stop within 10 s of SIGTERM")


def test_one_process_serves_and_stops_on_sigterm():
    process, port = start()
    try:
        assert asyncio.run(serving_pids(port, 3)) == {str(process.pid)}
    finally:
        assert stop(process) == 0


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="workers need SO_REUSEPORT")
def test_workers_share_the_port():
    process, port = start("--workers", "2")
    try:
        # The kernel spreads connections over the listening sockets by their addresses: with 40
        # connections both workers serve some unless the spread fails 1 time in 2**39, once both
        # listen (the port answers as soon as the first does: on a loaded machine the second
        # may take a moment longer).
        pids: set[str] = set()
        deadline = time.monotonic() + 15
        while len(pids) < 2 and time.monotonic() < deadline:
            pids |= asyncio.run(serving_pids(port, 40))
        assert len(pids) == 2 and str(process.pid) not in pids
    finally:
        assert stop(process) == 0
