"""A deflate bomb over a real socket: a client agrees permessage-deflate, then sends one compressed
binary frame of about 1 MiB that would inflate to 1 GiB of zeros. bolt's server, with the default
16 MiB message limit, must answer with close 1009 (RFC 6455 §7.4.1, "too big to process") having
inflated no more than about the limit: its process's peak RSS may grow by 64 MiB at most, never by
the gigabyte. Runs on stock asyncio and uvloop, with the compiled and the pure codec.

The server runs in this process (``AsyncTestClient``), so the figure is this process's peak RSS
(VmHWM, reset through /proc/self/clear_refs just before the bomb; where that is not allowed, RSS
sampled every millisecond) over its RSS just before, free heap pages given back first
(malloc_trim) so that earlier tests' freed memory does not hide the growth. The bomb is built once, before the baseline,
compressing 1 MiB of zeros 1,024 times, so the test itself never holds the gigabyte.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import gc
import os
import re
import threading
import time
import zlib

import pytest

from bolt.testing import AsyncTestClient
from tests.framing import raw_frame
from tests.hostile.peers import MiB, echo_api, rss
from tests.interop.wire import BINARY, CLOSE, RSV1, TAIL, TEXT, RawClient, deflated_frame

INFLATED = 1024 * MiB
RSS_BOUND = 64 * MiB


@pytest.fixture
def run(run, codec):
    """The loop under test (tests/hostile/conftest.py), with the codec under test: four runs."""
    run.codec_name = codec.NAME
    return run


@functools.lru_cache(maxsize=1)
def bomb() -> bytes:
    """One masked binary frame, RSV1 set: 1 GiB of zeros deflated at level 9 (window 15)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(MiB)
    parts = [compressor.compress(zeros) for _ in range(INFLATED // MiB)]
    parts.append(compressor.flush(zlib.Z_SYNC_FLUSH))
    compressed = b"".join(parts)
    assert compressed.endswith(TAIL)
    return raw_frame(BINARY, compressed[:-4], rsv=RSV1, key=os.urandom(4))


def _give_back_free_memory() -> None:
    """glibc's malloc_trim(0): free heap pages go back to the system, so that what the bomb makes
    the server allocate shows in RSS even after earlier tests grew this process's heap (reused
    free pages would not)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _vm_hwm() -> int:
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\s+(\d+) kB", status.read()).group(1)) * 1024


class PeakRss:
    """``with PeakRss() as peak:`` ... ``peak.growth``: the most RSS grew above its value at entry."""

    def __enter__(self) -> PeakRss:
        gc.collect()
        _give_back_free_memory()
        self.before = rss()
        self._sampled = self.before
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None
        try:
            with open("/proc/self/clear_refs", "w") as clear_refs:
                clear_refs.write("5")  # resets VmHWM to the current RSS
        except OSError:
            self._sampler = threading.Thread(target=self._sample, daemon=True)
            self._sampler.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.001):
            self._sampled = max(self._sampled, rss())

    def __exit__(self, *exc_info) -> None:
        if self._sampler is not None:
            self._stop.set()
            self._sampler.join(5)
            self.peak = self._sampled
            self.method = "sampled"
        else:
            self.peak = _vm_hwm()
            self.method = "VmHWM"
        self.growth = self.peak - self.before


async def bomb_the_server() -> tuple[int, float, PeakRss]:
    frame = bomb()
    async with AsyncTestClient(echo_api()) as server:  # the defaults: 16 MiB limit, compression on
        # A warm-up message over the same path, so that the baseline has paid for what any
        # compressed message costs (zlib's state, first allocations).
        async with RawClient(server.port, offer="permessage-deflate") as client:
            assert client.extensions == "permessage-deflate"  # bolt's defaults: a 15-bit window
            await client.send(deflated_frame(TEXT, b"warm " * 1000, zlib.compressobj(9, zlib.DEFLATED, -15)))
            assert (await client.receive()).opcode == TEXT
        with PeakRss() as peak:
            async with RawClient(server.port, offer="permessage-deflate", timeout=30) as client:
                started = time.perf_counter()
                await client.send(frame)
                while (reply := await client.receive()).opcode != CLOSE:
                    assert reply.opcode not in (TEXT, BINARY), "the server echoed the bomb"
                elapsed = time.perf_counter() - started
                code = int.from_bytes(reply.payload[:2], "big")
                await client.send(raw_frame(CLOSE, reply.payload[:2], key=os.urandom(4)))
                assert await asyncio.wait_for(client.reader.read(), 10) == b""  # the server closed TCP
    return code, elapsed, peak


def test_a_deflate_bomb_is_1009_without_inflating_it(run):
    frame_size = len(bomb())
    assert frame_size < 2 * MiB
    code, elapsed, peak = run(bomb_the_server(), timeout=60)
    print(
        f"\n[deflate] bomb: one {frame_size / MiB:.2f} MiB frame that inflates to 1 GiB, "
        f"{run.loop_name}, {run.codec_name} codec: close {code} after {elapsed * 1000:.0f} ms; "
        f"server process peak RSS +{peak.growth / MiB:.1f} MiB ({peak.method})"
    )
    assert code == 1009
    assert peak.growth < RSS_BOUND, f"peak RSS grew {peak.growth / MiB:.0f} MiB"
