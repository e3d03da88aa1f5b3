"""End-to-end echo benchmark: bolt's server beside websockets, aiohttp and picows.

Run from anywhere: ``python bench/echo/run.py`` (full, about 5 minutes) or ``--quick`` (under a
minute, noisier). ``--help`` lists the knobs (loops, libraries, sizes, CPU, seconds per cell...).

For each event loop (asyncio, uvloop) every server is started in its own process
(``server_<lib>.py --port N --loop L``, bound to 127.0.0.1), then:

1. Correctness first: over a fresh connection per size and type, three different payloads with
   three different masks, and the exact frame the timing will send, must each come back as one
   final frame of the same type with the same bytes. A server that fails is left out of the timing.
2. Timing: for each size (256 B, 8 KiB, 100 KiB, 1 MiB) and type (text = ASCII, binary), a fresh
   connection, a warm-up, then ping-pong round trips of one frame built and masked ahead of time
   (client.py), for a fixed time or a maximum count, whichever comes first. Measured:
   - round trips per second (wall clock of the client's loop);
   - the server's CPU time per message: the server process's own CPU time, read from
     /proc/<pid>/task/*/schedstat (nanoseconds on CPU, every thread) just before and just after
     the timed loop, divided by the round trips. /proc/<pid>/stat (utime+stime, 10 ms ticks) is the
     fallback when schedstat is missing.
   The libraries take turns within each repeat, so drift on a shared machine hits all alike; each
   cell keeps its best repeat (highest round trips/s, lowest server µs/message, independently).
3. Every server is terminated at the end (killed if it does not exit), on error and on Ctrl-C too.

Client and servers are pinned to one CPU (``--cpu``, default 0): on two vCPUs, ping-pong between
two CPUs measures cross-CPU wake-up latency rather than the library. Pinned, round trips/s is
bounded by client + server CPU per message, and the server's µs/message is the library's cost.

``--pipeline N`` keeps N messages in flight instead of one (default sizes 100 KiB and 1 MiB): the
client sends whenever fewer than N echoes are owed and reads echoes as they come (client.py,
non-blocking); the table gives messages per second and the server's CPU per message.

``--types mixed`` sends text in mixed scripts (Latin, Cyrillic, CJK, emoji: 1 to 4 bytes a
character) instead of ASCII; ``--libs`` can add ``picows-async``, picows' async API (its
websockets-compatible ``picows.websockets`` layer) with the same ``async for`` handler as bolt's.

``--compress`` measures a compressed echo instead (permessage-deflate, RFC 7692): each server runs
with ``--compress`` (its library's default compression settings; picows has none and is left out),
the client offers ``permessage-deflate; client_no_context_takeover; client_max_window_bits`` and
sends frames compressed ahead of time with the window the server allowed it (client.py). Payloads:
``json`` (a JSON array of records with the same keys and random values, text frames) and
``binary`` (random bytes, which deflate cannot shrink), of 1 KiB, 64 KiB and 1 MiB. Each cell
cycles through distinct messages (64 KiB of them at least, more than any window), so a server
cannot echo a message as a reference to its previous copy. The check inflates every echo and
compares it; the timed loop only reads the echo's frame. So the server's µs/message is: inflate
the client's message, decode it (text), then deflate the echo. A second table gives the echo's
bytes on the wire, from the check.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent.parent))  # bolt from this checkout

from client import (
    OP_BINARY,
    OP_TEXT,
    EchoClient,
    EchoError,
    deflated_frame,
    make_payload,
    masked_frame,
)

# name -> (script, extra arguments)
SERVERS = {
    "bolt": ("server_bolt.py", []),
    "websockets": ("server_websockets.py", []),
    "aiohttp": ("server_aiohttp.py", []),
    "picows": ("server_picows.py", []),
    # picows on the loop's own transport instead of aiofastnet's (when aiofastnet is installed).
    "picows-loop": ("server_picows.py", ["--transport", "loop"]),
    # bolt on aiofastnet's transport (its default is the loop's own), as picows runs by default.
    "bolt-aiofastnet": ("server_bolt.py", ["--transport", "aiofastnet"]),
    # bolt with its Prometheus metrics mounted: what counting costs per message.
    "bolt-metrics": ("server_bolt.py", ["--metrics"]),
    # A FastAPI WebSocket echo (fastapi_echo.py) on bolt (python -m bolt --asgi) and on the other
    # ASGI servers: --libs fastapi-bolt,fastapi-uvicorn,fastapi-uvicorn-wsproto,fastapi-granian.
    "fastapi-bolt": ("server_asgi.py", ["--server", "bolt"]),
    "fastapi-uvicorn": ("server_asgi.py", ["--server", "uvicorn-websockets"]),
    "fastapi-uvicorn-wsproto": ("server_asgi.py", ["--server", "uvicorn-wsproto"]),
    "fastapi-granian": ("server_asgi.py", ["--server", "granian"]),
    # picows' async API (picows.websockets), the same async for / send handler as bolt's.
    "picows-async": ("server_picows_async.py", []),
    # --compress only: bolt compressing at zlib level 6, websockets' level (bolt's default is 1,
    # aiohttp's), to compare like with like.
    "bolt-level6": ("server_bolt.py", ["--compression-level", "6"]),
}
DEFAULT_LIBS = ["bolt", "websockets", "aiohttp", "picows"]
SIZES = [256, 8 * 1024, 100 * 1024, 1024 * 1024]
TYPES = ["text", "binary"]
PIPELINE_SIZES = [100 * 1024, 1024 * 1024]
# --compress: the libraries with permessage-deflate, and what is worth compressing.
COMPRESSED_LIBS = ["bolt", "websockets", "aiohttp"]
WITH_DEFLATE = {*COMPRESSED_LIBS, "bolt-level6"}
COMPRESSED_SIZES = [1024, 64 * 1024, 1024 * 1024]
COMPRESSED_TYPES = ["json", "binary"]
CYCLE_BYTES = 64 * 1024  # a compressed cell cycles through at least this many bytes of distinct messages
LOOPS = ["asyncio", "uvloop"]
MAX_ROUND_TRIPS = 1_000_000  # per cell; the time limit normally comes first
READY_TIMEOUT = 20.0


def size_label(size: int) -> str:
    if size >= 1 << 20 and size % (1 << 20) == 0:
        return f"{size >> 20} MiB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size >> 10} KiB"
    return f"{size} B"


# The server's CPU time


def _schedstat_ns(pid: int) -> int | None:
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        for tid in tasks:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total


def _stat_ns(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    # fields[0] is the state (field 3 of proc(5)); utime and stime are fields 14 and 15.
    ticks = int(fields[11]) + int(fields[12])
    return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def minor_faults(pid: int) -> int:
    """The process tree's minor page faults so far (/proc/<pid>/stat field 10): a fresh region of
    memory touched costs one per 4 KiB page, which the kernel books as the server's system time."""
    total = 0
    for member in process_tree(pid):
        with open(f"/proc/{member}/stat") as f:
            total += int(f.read().rpartition(")")[2].split()[7])
    return total


def cpu_clock_name(pid: int) -> str:
    return "schedstat" if _schedstat_ns(pid) not in (None, 0) else "stat"


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a server script whose server is its child, granian's workers)."""
    pids, index = [pid], 0
    while index < len(pids):
        try:
            for tid in os.listdir(f"/proc/{pids[index]}/task"):
                with open(f"/proc/{pids[index]}/task/{tid}/children") as f:
                    pids.extend(int(child) for child in f.read().split())
        except OSError:
            pass
        index += 1
    return pids


def process_cpu_ns(pid: int, source: str) -> int:
    if source == "schedstat":
        value = _schedstat_ns(pid)
        if value is not None:
            return value
    return _stat_ns(pid)


# Servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    def __init__(self, lib: str, loop: str, log_dir: str, compress: bool = False) -> None:
        script, extra = SERVERS[lib]
        if compress:
            extra = [*extra, "--compress"]
        self.lib = lib
        self.port = free_port()
        self.log_path = os.path.join(log_dir, f"{lib}-{loop}.log")
        self.log = open(self.log_path, "wb")
        command = [sys.executable, str(HERE / script), "--port", str(self.port), "--loop", loop, *extra]
        # The child inherits this process's CPU affinity (set in main) across fork and exec.
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL)
        self.pid = self.process.pid
        self.failure: str | None = None
        self.cpu_source = "stat"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        line = b""
        stdout = self.process.stdout
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.process.poll() is not None:
                raise RuntimeError(f"{self.lib} server did not start: see {self.log_path}\n{self.log_tail()}")
            ready, _, _ = select.select([stdout], [], [], min(left, 0.5))
            if ready:
                byte = os.read(stdout.fileno(), 1)
                if not byte:
                    continue
                line += byte
        if not line.startswith(b"READY"):
            raise RuntimeError(f"{self.lib} server said {line!r}")
        self.cpu_source = cpu_clock_name(self.pid)

    def log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-2000:].decode(errors="replace")
        except OSError:
            return ""

    def cpu_ns(self) -> int:
        # The whole tree: for most servers that is the one process.
        return sum(process_cpu_ns(pid, self.cpu_source) for pid in process_tree(self.pid))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.log.close()


# Correctness and timing


def frame_for(kind: str, size: int, seed: int = 0) -> tuple[bytes, int, bytes]:
    opcode = OP_BINARY if kind == "binary" else OP_TEXT  # text, mixed: UTF-8 text
    payload = make_payload(kind, size, seed)
    key = make_payload("binary", 4, seed + 1000 + size)
    return masked_frame(opcode, payload, key), opcode, payload


_compressed: dict = {}


def compressed_frames(kind: str, size: int, window_bits: int) -> tuple[list[bytes], int, list[bytes]]:
    """The distinct messages a compressed cell cycles through, each as a frame compressed with the
    client's window: (frames, opcode, payloads). Built once per window and kept."""
    key = (kind, size, window_bits)
    if key not in _compressed:
        opcode = OP_BINARY if kind == "binary" else OP_TEXT
        payloads = [make_payload(kind, size, seed) for seed in range(max(2, -(-CYCLE_BYTES // size)))]
        keys = [make_payload("binary", 4, seed + 1000 + size) for seed in range(len(payloads))]
        frames = [deflated_frame(opcode, payload, mask, window_bits) for payload, mask in zip(payloads, keys)]
        _compressed[key] = (frames, opcode, payloads)
    return _compressed[key]


def verify(server: ServerProcess, cells: list[tuple[int, str]]) -> None:
    """Every cell's payloads (three random ones and the timed one) come back exactly."""
    for size, kind in cells:
        with EchoClient(server.port, max_payload=size) as client:
            for seed in (1, 2, 3, 0):
                frame, opcode, payload = frame_for(kind, size, seed)
                client.echo(frame, opcode, payload)


def verify_compressed(server: ServerProcess, cells: list[tuple[int, str]]) -> dict:
    """Every message a compressed cell cycles through, in order over one connection (so the
    server's context carries over), comes back the same once inflated. Returns, per cell, the
    echo's payload bytes on the wire (mean) and how many of the echoes were compressed."""
    wire = {}
    for size, kind in cells:
        with EchoClient(server.port, max_payload=size, compress=True) as client:
            frames, opcode, payloads = compressed_frames(kind, size, client.client_window_bits)
            echoes = [client.echo_compressed(frame, opcode, payload) for frame, payload in zip(frames, payloads)]
        wire[(size, kind)] = {
            "echo_bytes": sum(length for _, length in echoes) / len(echoes),
            "compressed": sum(compressed for compressed, _ in echoes) / len(echoes),
            "sent_bytes": sum(len(frame) for frame in frames) / len(frames),
            "client_window_bits": client.client_window_bits,
        }
    return wire


def measure(
    server: ServerProcess, kind: str, size: int, seconds: float, warmup: float, compress: bool = False, pipeline: int = 1
) -> dict:
    with EchoClient(server.port, max_payload=size, compress=compress) as client:
        if pipeline > 1:
            frame, opcode, _ = frame_for(kind, size)

            def timed(limit: float) -> tuple[int, float]:
                return client.pipelined(frame, 0x80 | opcode, size, pipeline, MAX_ROUND_TRIPS, limit)
        elif compress:
            frames, opcode, _ = compressed_frames(kind, size, client.client_window_bits)

            def timed(limit: float) -> tuple[int, float]:
                return client.round_trips_cycle(frames, opcode, MAX_ROUND_TRIPS, limit)
        else:
            frame, opcode, _ = frame_for(kind, size)

            def timed(limit: float) -> tuple[int, float]:
                return client.round_trips(frame, 0x80 | opcode, size, MAX_ROUND_TRIPS, limit)

        timed(warmup)
        faults_before = minor_faults(server.pid)
        cpu_before = server.cpu_ns()
        client_before = time.thread_time()
        done, wall = timed(seconds)
        client_cpu = time.thread_time() - client_before
        cpu_after = server.cpu_ns()
        faults_after = minor_faults(server.pid)
    return {
        "round_trips": done,
        "wall_s": wall,
        "rt_per_s": done / wall,
        "server_us": (cpu_after - cpu_before) / 1000 / done,
        "client_us": client_cpu * 1e6 / done,
        "faults": (faults_after - faults_before) / done,
    }


def best(runs: list[dict]) -> dict:
    return {
        "rt_per_s": max(r["rt_per_s"] for r in runs),
        "server_us": min(r["server_us"] for r in runs),
        "client_us": min(r["client_us"] for r in runs),
        "faults": min(r["faults"] for r in runs),
        "round_trips": sum(r["round_trips"] for r in runs),
        "repeats": len(runs),
    }


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


# Output


def table(
    loop: str, libs: list[str], cells: list[tuple[int, str]], results: dict, failures: dict, compress: bool = False, pipeline: int = 1
) -> str:
    width = max(17, *(len(lib) + 2 for lib in libs))
    mode = ", COMPRESSED (permessage-deflate)" if compress else ""
    rate = f"messages/s with {pipeline} in flight" if pipeline > 1 else "round trips/s"
    lines = [f"{loop}{mode}: {rate} | server CPU µs per message (best of repeats)"]
    header = f"{'size':>8} {'type':<7}" + "".join(f"{lib:>{width}}" for lib in libs)
    lines += [header, "-" * len(header)]
    for size, kind in cells:
        row = f"{size_label(size):>8} {kind:<7}"
        for lib in libs:
            cell = results.get((lib, size, kind))
            if cell is None:
                text = "failed" if lib in failures else "-"
            else:
                text = f"{cell['rt_per_s']:,.0f} | {cell['server_us']:.1f}"
            row += f"{text:>{width}}"
        lines.append(row)
    if "bolt" in libs and len(libs) > 1:
        lines.append("")
        for size, kind in cells:
            lines.append(f"{size_label(size):>8} {kind:<7} " + versus(libs, size, kind, results))
    return "\n".join(lines)


def faults_table(loop: str, libs: list[str], cells: list[tuple[int, str]], results: dict) -> str:
    """The server's minor page faults per message (best of repeats): near zero when a library
    reuses its memory from one message to the next."""
    width = max(12, *(len(lib) + 2 for lib in libs))
    lines = [f"{loop}: server page faults per message"]
    header = f"{'size':>8} {'type':<7}" + "".join(f"{lib:>{width}}" for lib in libs)
    lines += [header, "-" * len(header)]
    for size, kind in cells:
        row = f"{size_label(size):>8} {kind:<7}"
        for lib in libs:
            cell = results.get((lib, size, kind))
            row += f"{'-' if cell is None else format(cell['faults'], '.1f'):>{width}}"
        lines.append(row)
    return "\n".join(lines)


def wire_table(loop: str, libs: list[str], cells: list[tuple[int, str]], wire: dict) -> str:
    """Compressed mode: what the client sent and what each server echoed, in payload bytes."""
    width = 22
    lines = [f"{loop}, COMPRESSED: echo payload bytes on the wire, mean (share of echoes compressed); client frame bytes"]
    header = f"{'size':>8} {'type':<7}" + "".join(f"{lib:>{width}}" for lib in libs) + f"{'client sends':>{width}}"
    lines += [header, "-" * len(header)]
    for size, kind in cells:
        row = f"{size_label(size):>8} {kind:<7}"
        sent = None
        for lib in libs:
            cell = wire.get((lib, size, kind))
            text = "-" if cell is None else f"{cell['echo_bytes']:,.0f} ({cell['compressed']:.0%})"
            if cell is not None and sent is None:
                sent = cell["sent_bytes"]
            row += f"{text:>{width}}"
        row += f"{'-' if sent is None else f'{sent:,.0f}':>{width}}"
        lines.append(row)
    return "\n".join(lines)


def versus(libs: list[str], size: int, kind: str, results: dict) -> str:
    bolt = results.get(("bolt", size, kind))
    others = {lib: results[(lib, size, kind)] for lib in libs if not lib.startswith("bolt") and (lib, size, kind) in results}
    if bolt is None or not others:
        return "bolt vs best other: n/a"
    cpu_lib = min(others, key=lambda lib: others[lib]["server_us"])
    rt_lib = max(others, key=lambda lib: others[lib]["rt_per_s"])
    cpu_ratio = bolt["server_us"] / others[cpu_lib]["server_us"]
    rt_ratio = bolt["rt_per_s"] / others[rt_lib]["rt_per_s"]
    target = [lib for lib in ("aiohttp", "websockets") if lib in others]
    behind = [lib for lib in target if bolt["server_us"] >= others[lib]["server_us"] or bolt["rt_per_s"] <= others[lib]["rt_per_s"]]
    verdict = "ahead of " + " and ".join(target) if not behind else "NOT ahead of " + ", ".join(behind)
    return (
        f"bolt vs best other: CPU {bolt['server_us']:.1f} vs {others[cpu_lib]['server_us']:.1f} µs ({cpu_lib}), "
        f"x{cpu_ratio:.2f}; rt/s {bolt['rt_per_s']:,.0f} vs {others[rt_lib]['rt_per_s']:,.0f} ({rt_lib}), "
        f"x{rt_ratio:.2f}; {verdict}"
    )


def machine() -> str:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = []
    for name in ("websockets", "aiohttp", "picows", "aiofastnet", "uvloop", "fastapi", "uvicorn", "wsproto", "granian"):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    from bolt import codec

    implementation = getattr(codec, "IMPLEMENTATION", None) or getattr(codec, "implementation", "?")
    return (
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}; {model}, {os.cpu_count()} vCPU, Linux {platform.release()}; "
        f"Python {platform.python_version()}; bolt {bolt_revision()} (codec {implementation}); {', '.join(versions)}"
    )


def bolt_revision() -> str:
    """The checkout's commit, and whether bolt/ differs from it (read-only git commands)."""
    repo = str(HERE.parent.parent)
    try:
        commit = subprocess.run(
            ["git", "-C", repo, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(["git", "-C", repo, "diff", "--quiet", "HEAD", "--", "bolt"], timeout=10).returncode
    except (OSError, subprocess.SubprocessError):
        return "?"
    if not commit:
        return "?"
    return commit + (" + uncommitted changes in bolt/" if dirty else "")


# Main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one repeat of short cells (under a minute)")
    parser.add_argument("--compress", action="store_true", help="a compressed echo (permessage-deflate; see the docstring)")
    parser.add_argument("--pipeline", type=int, default=1, help="messages in flight (default 1: ping-pong)")
    parser.add_argument("--loops", default=",".join(LOOPS), help="comma-separated: asyncio,uvloop")
    parser.add_argument(
        "--libs",
        help=f"comma-separated, from {', '.join(SERVERS)} (default {','.join(DEFAULT_LIBS)}; compressed {','.join(COMPRESSED_LIBS)})",
    )
    parser.add_argument("--sizes", help="payload sizes in bytes (default 256,8192,102400,1048576; compressed 1024,65536,1048576)")
    parser.add_argument("--types", help="from text, binary, mixed, json (default text,binary; compressed json,binary)")
    parser.add_argument("--seconds", type=float, help="timed seconds per cell (full 1.0, quick 0.3)")
    parser.add_argument("--repeats", type=int, help="repeats per cell, best kept (full 3, quick 1)")
    parser.add_argument("--cpu", type=int, default=0, help="the CPU both client and servers are pinned to")
    parser.add_argument("--no-pin", action="store_true", help="do not pin (measures cross-CPU wake-ups)")
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument(
        "--chart", help="also draw server CPU per message by size, a line per library, into this PNG (needs matplotlib)"
    )
    args = parser.parse_args()

    seconds = args.seconds or (0.3 if args.quick else 1.0)
    repeats = args.repeats or (1 if args.quick else 3)
    warmup = min(0.2, seconds / 3)
    loops = args.loops.split(",")
    compress = args.compress
    libs = (args.libs or ",".join(COMPRESSED_LIBS if compress else DEFAULT_LIBS)).split(",")
    for lib in libs:
        if lib not in SERVERS:
            parser.error(f"unknown library {lib!r}")
        if compress and lib not in WITH_DEFLATE:
            parser.error(f"{lib} has no permessage-deflate: --compress takes {', '.join(sorted(WITH_DEFLATE))}")
        if not compress and lib == "bolt-level6":
            parser.error("bolt-level6 is for --compress")
    if args.pipeline < 1 or (args.pipeline > 1 and compress):
        parser.error("--pipeline takes a count of 1 or more, without --compress")
    default_sizes = COMPRESSED_SIZES if compress else PIPELINE_SIZES if args.pipeline > 1 else SIZES
    sizes = [int(s) for s in (args.sizes or ",".join(map(str, default_sizes))).split(",")]
    if max(sizes) > 16 * 1024 * 1024:
        parser.error("sizes up to 16 MiB (the servers' limit)")
    types = (args.types or ",".join(COMPRESSED_TYPES if compress else TYPES)).split(",")
    for kind in types:
        if kind not in ("text", "binary", "json", "mixed"):
            parser.error(f"unknown type {kind!r}")
    cells = [(size, kind) for size in sizes for kind in types]

    if not args.no_pin:
        os.sched_setaffinity(0, {args.cpu})
    pinned = "not pinned" if args.no_pin else f"client and servers pinned to CPU {args.cpu}"
    title = "compressed echo benchmark (permessage-deflate)" if compress else "echo benchmark" + (f", {args.pipeline} messages in flight" if args.pipeline > 1 else "")
    print(f"{title}: {machine()}")
    print(f"{pinned}; {seconds:g} s per cell after {warmup:g} s warm-up, best of {repeats}; load average {loadavg()}")
    print()

    # SIGTERM ends the run like Ctrl-C, so the finally blocks stop the servers.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))

    report = {"machine": machine(), "libs": libs, "compressed": compress, "pipeline": args.pipeline, "pinned": pinned, "seconds": seconds, "repeats": repeats, "loops": {}}
    started = time.monotonic()
    log_dir = tempfile.mkdtemp(prefix="bolt-echo-bench-")
    ok = True
    for loop in loops:
        servers: dict[str, ServerProcess] = {}
        failures: dict[str, str] = {}
        results: dict = {}
        wire: dict = {}
        load_before = loadavg()
        try:
            for lib in libs:
                servers[lib] = ServerProcess(lib, loop, log_dir, compress)
            for lib, server in servers.items():
                try:
                    server.wait_ready()
                except RuntimeError as error:
                    failures[lib] = str(error)
                    print(f"{loop} {lib}: did not start, left out: {error}")
                    ok = False
                    continue
                if not args.no_pin:
                    affinity = os.sched_getaffinity(server.pid)
                    if affinity != {args.cpu}:
                        raise RuntimeError(f"{lib} server runs on CPUs {affinity}, not {args.cpu}")
            for lib, server in servers.items():
                if lib in failures:
                    continue
                try:
                    if compress:
                        for (size, kind), value in verify_compressed(server, cells).items():
                            wire[(lib, size, kind)] = value
                    else:
                        verify(server, cells)
                except (EchoError, OSError) as error:
                    failures[lib] = f"{type(error).__name__}: {error}"
                    print(f"{loop} {lib}: FAILED the echo check, left out: {failures[lib]}\n{server.log_tail()}")
                    ok = False
            runs: dict = {}
            timed = [lib for lib in libs if lib not in failures]
            for repeat in range(repeats):
                for index, (size, kind) in enumerate(cells):
                    shift = (repeat + index) % len(timed) if timed else 0
                    for lib in timed[shift:] + timed[:shift]:
                        if lib in failures:
                            continue
                        try:
                            run = measure(servers[lib], kind, size, seconds, warmup, compress, args.pipeline)
                        except (EchoError, OSError) as error:
                            failures[lib] = f"{type(error).__name__}: {error}"
                            print(f"{loop} {lib} {size_label(size)} {kind}: FAILED: {failures[lib]}")
                            ok = False
                            continue
                        runs.setdefault((lib, size, kind), []).append(run)
            results = {key: best(value) for key, value in runs.items() if key[0] not in failures}
        finally:
            for server in servers.values():
                server.stop()
        print(table(loop, libs, cells, results, failures, compress, args.pipeline))
        print()
        print(faults_table(loop, libs, cells, results))
        if compress:
            print()
            print(wire_table(loop, libs, cells, wire))
        print(f"load average before {load_before}, after {loadavg()}")
        print()
        report["loops"][loop] = {
            "failures": failures,
            "cells": [
                {"lib": lib, "size": size, "type": kind, **value, **({"wire": wire[(lib, size, kind)]} if (lib, size, kind) in wire else {})}
                for (lib, size, kind), value in results.items()
            ],
        }
    print(f"total {time.monotonic() - started:.0f} s; server logs in {log_dir}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if args.chart:
        draw_chart(report, args.chart)
    return 0 if ok else 1


def draw_chart(report: dict, path: str) -> None:
    """Server CPU µs per message against message size (log-log), one panel per loop and message
    type, one line per library; the run's date, machine and versions in the title."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")  # a file, no display
    from matplotlib import pyplot

    panels = [(loop, kind) for loop, data in report["loops"].items() for kind in sorted({c["type"] for c in data["cells"]})]
    figure, axes = pyplot.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.5), squeeze=False)
    # One colour and one place in the legend per library in every panel, in the --libs order
    # (the cells come in the order the libraries took turns, which changes between repeats).
    order = report.get("libs") or sorted({cell["lib"] for data in report["loops"].values() for cell in data["cells"]})
    colours = {lib: f"C{index % 10}" for index, lib in enumerate(order)}
    for axis, (loop, kind) in zip(axes[0], panels):
        cells = [cell for cell in report["loops"][loop]["cells"] if cell["type"] == kind]
        for lib in (lib for lib in order if any(cell["lib"] == lib for cell in cells)):
            points = sorted((cell["size"], cell["server_us"]) for cell in cells if cell["lib"] == lib)
            axis.plot([size for size, _ in points], [us for _, us in points], marker="o", label=lib, color=colours[lib])
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        axis.set_xlabel("message size, bytes")
        axis.set_ylabel("server CPU µs per message (lower is better)")
        axis.set_title(f"{loop}, {kind}")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.suptitle("\n".join(textwrap.wrap(report["machine"], 100)), fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print(f"chart written to {path}")


if __name__ == "__main__":
    sys.exit(main())
