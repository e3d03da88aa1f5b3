"""What the hostile-peer tests share: a server on the test's loop, peers in processes of their own,
a well-behaved prober, and the process figures (RSS, open files, CPU time).

The server under attack runs on the test's own event loop, so a test can look at its sessions. The
hostile peers (``flooder.py``, ``idle_clients.py``) are separate processes that know nothing of
bolt: their CPU time is not the server's, and they cannot share the server's GIL. The ``Prober`` is
a well-behaved bolt client on the server's loop doing echo round trips on a fixed schedule; a round
trip's latency counts from when it was due, not from when it started, so a loop stalled by a flood
shows up in full (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import bolt
from bolt import BoltAPI, WebSocket

HERE = Path(__file__).resolve().parent
PAGE = os.sysconf("SC_PAGE_SIZE")
MiB = 1024 * 1024


def echo_api(**settings) -> BoltAPI:
    """``/echo`` sends every message back, text as text and binary as binary."""
    api = BoltAPI(**settings)

    @api.websocket("/echo")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        async for message in websocket:
            await websocket.send(message)

    return api


# Figures of this process


def rss(pid: int | str = "self") -> int:
    """Resident set size in bytes."""
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def cpu() -> float:
    """CPU seconds (user + system) of the calling thread: the event loop's, when called on it."""
    return time.thread_time()


def mib(size: float) -> str:
    return f"{size / MiB:.1f} MiB"


def inbox_length(session) -> int:
    """Messages waiting for the handler (the attribute's name has changed before: either)."""
    inbox = getattr(session, "inbox", None)
    if inbox is None:
        inbox = getattr(session, "_inbox", ())
    return len(inbox)


# Peers in processes of their own


async def run_peer(script: str, *args, timeout: float = 90.0) -> dict:
    """Run ``script`` (a file next to this one) with ``args``; its last stdout line is JSON."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / script), *map(str, args), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except BaseException:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise AssertionError(f"{script} {args} exited with {process.returncode}: {err.decode()[-2000:]}")
    return json.loads(out.decode().strip().splitlines()[-1])


async def flood(port: int, mode: str, amount: float, path: str = "/echo") -> dict:
    """``flooder.py`` against the server: see its docstring for the modes."""
    return await run_peer("flooder.py", "127.0.0.1", port, path, mode, amount)


# A well-behaved client beside the hostile one


@dataclass
class Probe:
    """Round trips of a well-behaved client, and whatever ``sample`` recorded at each."""

    latencies: list[float] = field(default_factory=list)
    samples: list = field(default_factory=list)
    cpu_per_second: float = 0.0  # the prober's own CPU cost on the loop, measured before the flood

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def summary(self) -> str:
        if not self.latencies:
            return "no round trips"
        return (
            f"{len(self.latencies)} round trips: p50 {1000 * statistics.median(self.latencies):.1f} ms, "
            f"p99 {1000 * self.percentile(0.99):.1f} ms, max {1000 * max(self.latencies):.1f} ms"
        )


class Prober:
    """Echo round trips every ``interval`` seconds over one connection, until ``stop()``.

    ``sample()`` (if given) is called on every tick and its result kept: the tests use it to watch
    the server's buffers and RSS while a flood runs.
    """

    def __init__(self, port: int, interval: float = 0.01, sample=None) -> None:
        self.url = f"ws://127.0.0.1:{port}/echo"
        self.interval = interval
        self.sample = sample
        self.probe = Probe()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._ws = None

    async def __aenter__(self) -> Prober:
        self._ws = await bolt.connect(self.url)
        # The prober's own CPU cost per second, to take out of the server's figure.
        await self._round_trips(0.1, record=False)
        before = cpu()
        await self._round_trips(0.3, record=False)
        self.probe.cpu_per_second = (cpu() - before) / 0.3
        self._task = asyncio.create_task(self._round_trips(None, record=True))
        return self

    async def _round_trips(self, duration: float | None, record: bool) -> None:
        clock = time.perf_counter
        start = due = clock()
        payload = "probe" * 4
        while not self._stopping.is_set() and (duration is None or clock() - start < duration):
            delay = due - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = clock()
            await self._ws.send_text(payload)
            assert await self._ws.receive_text() == payload
            if record:
                # From when it was due (a stalled loop starts it late), or from its start if a
                # coarse timer woke it early.
                self.probe.latencies.append(clock() - min(due, sent))
                if self.sample is not None:
                    self.probe.samples.append(self.sample())
            due = max(due + self.interval, clock() - self.interval)  # late ticks are not made up in a burst

    async def stop(self) -> Probe:
        self._stopping.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 10)
        await self._ws.close()
        return self.probe

    async def __aexit__(self, *exc_info) -> None:
        if not self._stopping.is_set():
            self._stopping.set()
            if self._task is not None:
                self._task.cancel()
            await self._ws.close()


class LoopWatch:
    """How long the event loop went without running a callback: a heartbeat every ``interval``
    seconds records the gaps between beats. ``longest`` is the worst stall a connection could see
    (a timer, a ready task or another socket waiting for the loop)."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.gaps: list[float] = []
        self._handle: asyncio.TimerHandle | None = None
        self._last = 0.0

    def __enter__(self) -> LoopWatch:
        self._last = time.perf_counter()
        self._handle = asyncio.get_running_loop().call_soon(self._beat)
        return self

    def _beat(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now
        self._handle = asyncio.get_running_loop().call_later(self.interval, self._beat)

    def __exit__(self, *exc_info) -> None:
        if self._handle is not None:
            self._handle.cancel()

    @property
    def longest(self) -> float:
        return max(self.gaps, default=0.0)


def report(title: str, **figures) -> None:
    """Print a test's figures (``pytest -rP`` or ``-s`` shows them); with ``BOLT_HOSTILE_FIGURES``
    set to a file name, also append them to that file as one JSON line."""
    line = ", ".join(f"{name}={value}" for name, value in figures.items())
    print(f"\n[hostile] {title}: {line}", flush=True)
    path = os.environ.get("BOLT_HOSTILE_FIGURES")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps({"test": title, **figures}, default=str) + "\n")


class IdleClients:
    """``idle_clients.py`` in a child process: ``count`` connections held open, commands on stdin.

    ``async with IdleClients(port, count) as clients:`` returns once all are open
    (``clients.opened``: its JSON line); ``await clients.command("echo 64")`` and
    ``await clients.command("close")`` return the child's answer.
    """

    def __init__(self, port: int, count: int, batch: int = 200, path: str = "/echo", timeout: float = 120.0) -> None:
        self.args = ["127.0.0.1", port, path, count, batch]
        self.timeout = timeout
        self.process: asyncio.subprocess.Process | None = None
        self.opened: dict = {}

    async def __aenter__(self) -> IdleClients:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HERE / "idle_clients.py"),
            *map(str, self.args),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self.opened = await self._answer()
        return self

    async def _answer(self) -> dict:
        line = await asyncio.wait_for(self.process.stdout.readline(), self.timeout)
        if not line:
            error = await self.process.stderr.read()
            raise AssertionError(f"idle_clients.py failed: {error.decode()[-2000:]}")
        return json.loads(line)

    async def command(self, text: str) -> dict:
        self.process.stdin.write(text.encode() + b"\n")
        await self.process.stdin.drain()
        return await self._answer()

    async def __aexit__(self, *exc_info) -> None:
        if self.process.returncode is None:
            self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()
