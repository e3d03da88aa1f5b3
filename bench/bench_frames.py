"""Frame parsing and frame building: bolt beside aiohttp and websockets, in one process.

Run: ``python bench/bench_frames.py`` (about a minute and a half), or ``--quick`` (under 30 s, noisier).

Parse: for each payload size, a stream of N masked client->server frames (binary with random bytes,
or text with an ASCII payload; every frame a whole message) is cut into 64 KiB chunks, as socket reads
would deliver it, and the same chunks go to:

- bolt           ``bolt._speedups.frames.FrameParser().feed(chunk)``, returns a list of events
- bolt pure      ``bolt._pure.frames.FrameParser().feed(chunk)``
- bolt bufproto  the compiled parser through the BufferedProtocol path, as asyncio's selector
                 transport drives it: ``view = p.get_buffer(-1)``, copy ``min(len(view), left)``
                 bytes of the chunk into the view (what ``recv_into`` would do), ``p.buffer_updated(n)``
- aiohttp        ``aiohttp._websocket.reader_c.WebSocketReader`` (the Cython build, checked), fed
                 ``reader.feed_data(chunk)``; its queue is a subclass of the Cython
                 ``WebSocketDataQueue`` (the reader's type declaration requires one) whose
                 ``feed_data`` only appends to a list, which measured a little cheaper than the
                 real queue
- websockets     its sans-I/O receive path: ``ServerProtocol()`` switched to ``State.OPEN`` with its
                 parser coroutine restarted, ``receive_data(chunk)`` then ``events_received()``. It
                 yields frames, not messages, and leaves text as bytes: its asyncio Assembler decodes
                 a single-frame text message with ``frame.data.decode()``, so this column does that too
                 (text only) to compare like with like.

Each parser is checked first: right number of messages, right type, every payload equal. Then each
cell runs the whole stream over and over for about CELL_SECONDS, three times, and keeps the best;
the implementations take turns within each repeat, so drift on this shared machine hits all alike.
The messages of each read are dropped before the next read, as a server handles them. Time is this
thread's CPU time (``time.thread_time``), so other jobs on the two shared cores do not count, though
they still share caches. MB/s counts payload bytes (10^6 a second), not header bytes.

Build: frames per second for ``FrameWriter().binary(payload)`` / ``.text(s)`` (server role, unmasked)
and ``FrameWriter(client=True)`` (masked), beside bolt's pure writer, aiohttp's
``WebSocketWriter._write_websocket_frame`` (the synchronous part of ``send_frame``: header, mask,
``transport.write``; driven with a transport whose ``write`` is ``len``, i.e. free, and no coroutine
around it, which flatters aiohttp a little; for text it is given ``s.encode()`` as ``send_str`` does)
and websockets' ``Frame(opcode, data).serialize(mask=..., extensions=[])`` (text also ``s.encode()``).
The line under the parse tables says how many get_buffer/buffer_updated rounds (recv_into calls, in
a real server) the BufferedProtocol path needed per 64 KiB the socket had ready.

Note that aiohttp's unmasked path writes header and payload separately above 16 KiB instead of joining
them, so at 64 KiB it copies nothing while the others build one bytes object.
"""

from __future__ import annotations

import argparse
import os
import random
import string
import struct
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp._websocket.reader as aiohttp_reader  # noqa: E402
from aiohttp._websocket import reader_c  # noqa: E402
from aiohttp._websocket.models import WSMsgType  # noqa: E402
from aiohttp._websocket.writer import WebSocketWriter  # noqa: E402
from websockets.frames import Frame, Opcode  # noqa: E402
from websockets.protocol import State  # noqa: E402
from websockets.server import ServerProtocol  # noqa: E402

from bolt._pure import frames as pure  # noqa: E402
from bolt._speedups import frames as compiled  # noqa: E402

PARSE_SIZES = [2, 16, 128, 1024, 8 * 1024, 64 * 1024]
WRITE_SIZES = [16, 1024, 64 * 1024]
CHUNK = 64 * 1024
REPEATS = 3
# Set by main(): seconds each timed run lasts, and how big a stream gets.
CELL_SECONDS = 0.2
STREAM_BYTES = 2 * 1024 * 1024
MAX_FRAMES = 20_000
MIN_FRAMES = 16
# CPU time of this thread, not wall time: on two shared cores other people's jobs take the CPU away
# for whole time slices, and wall time would charge those to whichever cell was running.
CLOCK = time.thread_time

OP_TEXT, OP_BINARY = 0x1, 0x2


# The stream. Built here with struct and int XOR, not with any of the code under test.


def masked_frame(opcode: int, payload: bytes, key: bytes) -> bytes:
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    repeated = (key * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(length, "big")
    return header + key + masked


def frame_count(size: int) -> int:
    return max(MIN_FRAMES, min(MAX_FRAMES, STREAM_BYTES // size))


def make_stream(kind: str, size: int) -> tuple[list[bytes], list]:
    """(64 KiB chunks of the wire stream, the payloads in order: bytes for binary, str for text)."""
    rng = random.Random(size * 2 + (kind == "text"))
    payloads: list = []
    frames = []
    letters = (string.ascii_letters + string.digits + " {}:,\"").encode()
    for _ in range(frame_count(size)):
        if kind == "text":
            data = bytes(rng.choices(letters, k=size))
            payloads.append(data.decode("ascii"))
            opcode = OP_TEXT
        else:
            data = rng.randbytes(size)
            payloads.append(data)
            opcode = OP_BINARY
        frames.append(masked_frame(opcode, data, rng.randbytes(4)))
    stream = b"".join(frames)
    return [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)], payloads


# The parsers. Each factory takes the chunks and returns run(handle), which parses the whole stream
# once and passes the messages of each read to handle(): ``len`` when timing (the messages of one
# read are dropped before the next, as a server would handle them, so they never pile up in the
# cache or in front of the garbage collector), ``list.extend`` for the check. The parser lives across
# calls, as a connection's would.

Handle = Callable[[list], object]
Run = Callable[[Handle], None]


def bolt_feed(module, chunks: list[bytes]) -> Run:
    feed = module.FrameParser().feed

    def run(handle: Handle) -> None:
        for chunk in chunks:
            handle(feed(chunk))

    return run


def bolt_buffered(chunks: list[bytes]) -> Run:
    parser = compiled.FrameParser()
    get_buffer, buffer_updated = parser.get_buffer, parser.buffer_updated
    views = [memoryview(chunk) for chunk in chunks]  # slicing these copies nothing

    def run(handle: Handle) -> None:
        for chunk in views:
            pos, size = 0, len(chunk)
            while pos < size:
                view = get_buffer(-1)
                n = min(len(view), size - pos)
                view[:n] = chunk[pos : pos + n]
                # The transport drops its view before the next get_buffer, which may grow the buffer.
                view.release()
                handle(buffer_updated(n))
                pos += n

    return run


def bufproto_reads(chunks: list[bytes]) -> float:
    """How many get_buffer/buffer_updated rounds a 64 KiB socket read takes, once the buffer settled."""
    run = bolt_buffered(chunks)
    reads = 0

    def count(events: list) -> None:
        nonlocal reads
        reads += 1

    run(len)
    run(count)
    return reads / len(chunks)


class ListQueue(reader_c.WebSocketDataQueue):
    """The cheapest queue aiohttp's Cython reader accepts: feed_data appends to a list."""

    def __init__(self) -> None:
        super().__init__(None, 2**30, loop=None)
        self.messages: list = []

    def feed_data(self, data, size) -> None:
        self.messages.append(data)


def aiohttp_cython(chunks: list[bytes]) -> Run:
    queue = ListQueue()
    feed = reader_c.WebSocketReader(queue, 0, False, True).feed_data
    messages = queue.messages

    def run(handle: Handle) -> None:
        for chunk in chunks:
            feed(chunk)
            handle(messages)
            messages.clear()

    return run


def websockets_sans_io(chunks: list[bytes], decode_text: bool) -> Run:
    protocol = ServerProtocol()
    protocol.state = State.OPEN
    protocol.parser = protocol.parse()  # the one started in __init__ is waiting for an HTTP request
    next(protocol.parser)
    receive_data, events_received = protocol.receive_data, protocol.events_received

    def run(handle: Handle) -> None:
        for chunk in chunks:
            receive_data(chunk)
            handle(events_received())

    def run_decoding(handle: Handle) -> None:
        for chunk in chunks:
            receive_data(chunk)
            handle([frame.data.decode() for frame in events_received()])

    return run_decoding if decode_text else run


PARSERS: dict[str, Callable[[list[bytes], str], Run]] = {
    "bolt": lambda chunks, kind: bolt_feed(compiled, chunks),
    "bolt pure": lambda chunks, kind: bolt_feed(pure, chunks),
    "bolt bufproto": lambda chunks, kind: bolt_buffered(chunks),
    "aiohttp": lambda chunks, kind: aiohttp_cython(chunks),
    "websockets": lambda chunks, kind: websockets_sans_io(chunks, kind == "text"),
}


def as_pairs(name: str, messages: list) -> list[tuple[bool, object]]:
    """(is_text, payload) for each message, whatever the library's message object."""
    if name.startswith("bolt"):
        return [(type(m) is str, m) for m in messages if type(m) in (str, bytes)]
    if name == "aiohttp":
        return [(m.type == WSMsgType.TEXT, m.data if m.type == WSMsgType.TEXT else bytes(m.data)) for m in messages]
    # websockets: frames, or already decoded text.
    return [(True, m) if type(m) is str else (m.opcode is Opcode.TEXT, bytes(m.data)) for m in messages]


def check_parse(name: str, run: Run, kind: str, payloads: list) -> None:
    for attempt in range(2):  # twice: the second pass reuses the parser, as the timing does
        messages: list = []
        run(messages.extend)
        got = as_pairs(name, messages)
        want = [(kind == "text", payload) for payload in payloads]
        if got != want:
            bad = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
            raise SystemExit(
                f"{name} parsed the {kind} stream wrongly (pass {attempt + 1}): {len(got)} messages for "
                f"{len(want)}, first difference at message {bad}"
            )


# Timing.


def best_rates(runs: dict[str, Run], units_per_run: int) -> dict[str, float]:
    """Units a second for each run, best of REPEATS timed runs of about CELL_SECONDS each.

    The implementations take turns within each repeat.
    """
    loops = {}
    for name, run in runs.items():
        started = CLOCK()
        run(len)
        once = max(CLOCK() - started, 1e-7)
        loops[name] = max(1, round(CELL_SECONDS / once))
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(REPEATS):
        for name, run in runs.items():
            count = loops[name]
            started = CLOCK()
            for _ in range(count):
                run(len)
            best[name] = min(best[name], (CLOCK() - started) / count)
    return {name: units_per_run / seconds for name, seconds in best.items()}


def seconds_per_call(stmt: str, namespace: dict) -> float:
    """Best time of one call, over REPEATS loops of about CELL_SECONDS each (as bench_mask.py)."""
    timer = timeit.Timer(stmt, timer=CLOCK, globals=namespace)
    number, elapsed = 1, 0.0
    while elapsed < CELL_SECONDS / 10:
        number *= 2
        elapsed = timer.timeit(number)
    number = max(1, int(number * CELL_SECONDS / elapsed))
    return min(timer.repeat(REPEATS, number)) / number


def human_size(size: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size // scale} {unit}"
    return f"{size} B"


# The writers. Each case returns (statement, namespace) building one frame of the payload.


def writer_cases(kind: str, masked: bool, size: int) -> dict[str, tuple[str, dict]]:
    data = os.urandom(size) if kind == "binary" else "".join(random.choices(string.ascii_letters, k=size))
    method = "binary" if kind == "binary" else "text"
    aio = WebSocketWriter(None, SimpleNamespace(write=len, is_closing=bool), use_mask=masked)
    opcode = Opcode.BINARY if kind == "binary" else Opcode.TEXT
    encode = "" if kind == "binary" else ".encode()"
    return {
        "bolt": ("f(data)", {"f": getattr(compiled.FrameWriter(client=masked), method), "data": data}),
        "bolt pure": ("f(data)", {"f": getattr(pure.FrameWriter(client=masked), method), "data": data}),
        "aiohttp": (f"f(data{encode}, {int(opcode)}, 0)", {"f": aio._write_websocket_frame, "data": data}),
        "websockets": (
            f"Frame(op, data{encode}).serialize(mask=masked, extensions=[])",
            {"Frame": Frame, "op": opcode, "data": data, "masked": masked},
        ),
    }


def check_writers(kind: str, masked: bool, size: int) -> None:
    """Every writer's frame must parse back to the payload (bolt's pure parser, in the right role)."""
    cases = writer_cases(kind, masked, size)
    for name, (stmt, namespace) in cases.items():
        written: list = []
        if name == "aiohttp":
            namespace["f"].__self__.transport = SimpleNamespace(write=written.append, is_closing=bool)
            eval(stmt, namespace)
            frame = b"".join(written)
        else:
            frame = eval(stmt, namespace)
        events = pure.FrameParser(client=not masked).feed(frame)
        want = namespace["data"]
        if len(events) != 1 or events[0] != want:
            raise SystemExit(f"{name} built a wrong {kind} frame ({'masked' if masked else 'unmasked'}, {size} B)")


def main() -> None:
    global CELL_SECONDS, STREAM_BYTES, MAX_FRAMES
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--quick", action="store_true", help="short cells and streams: under 30 s, noisier")
    if options.parse_args().quick:
        CELL_SECONDS, STREAM_BYTES, MAX_FRAMES = 0.03, 512 * 1024, 4_000

    if aiohttp_reader.WebSocketReader is not reader_c.WebSocketReader:
        raise SystemExit("aiohttp's reader is not the Cython one (AIOHTTP_NO_EXTENSIONS set?)")
    started = time.perf_counter()
    width = max(len(name) for name in PARSERS) + 2

    print(
        f"Frame parsing: masked client frames, one message each, fed in {CHUNK // 1024} KiB chunks; "
        f"best of {REPEATS} runs of ~{CELL_SECONDS} s of CPU time"
    )
    print("  websockets = ServerProtocol (OPEN).receive_data + events_received (+ frame.data.decode() for text)")
    print("  aiohttp    = reader_c.WebSocketReader (Cython) .feed_data, list-appending queue")
    rates: dict[tuple[str, int], dict[str, float]] = {}
    reads: dict[int, float] = {}
    for kind in ("binary", "text"):
        for size in PARSE_SIZES:
            chunks, payloads = make_stream(kind, size)
            runs = {}
            for name, factory in PARSERS.items():
                run = factory(chunks, kind)
                check_parse(name, run, kind, payloads)
                runs[name] = run
            rates[kind, size] = best_rates(runs, len(payloads))
            reads[size] = bufproto_reads(chunks)

        print(f"\n{kind}: thousand messages/s (higher is better)")
        print("size".rjust(8) + "frames".rjust(8) + "".join(name.rjust(width) for name in PARSERS))
        for size in PARSE_SIZES:
            cells = (f"{rates[kind, size][name] / 1e3:,.0f}" for name in PARSERS)
            row = human_size(size).rjust(8) + str(frame_count(size)).rjust(8)
            print(row + "".join(c.rjust(width) for c in cells))
        print(f"\n{kind}: payload MB/s (higher is better)")
        print("size".rjust(8) + "".rjust(8) + "".join(name.rjust(width) for name in PARSERS))
        for size in PARSE_SIZES:
            cells = (f"{rates[kind, size][name] * size / 1e6:,.1f}" for name in PARSERS)
            print(human_size(size).rjust(8) + "".rjust(8) + "".join(c.rjust(width) for c in cells))
    print(
        "\nbolt bufproto: get_buffer(-1)/buffer_updated rounds per 64 KiB socket read (1.0 = one recv_into):\n  "
        + ", ".join(f"{human_size(size)} {reads[size]:.1f}" for size in PARSE_SIZES)
    )

    writers = ("bolt", "bolt pure", "aiohttp", "websockets")
    print("\nFrame building: thousand frames/s (higher is better)")
    print("  aiohttp    = WebSocketWriter._write_websocket_frame with a no-op transport (no send_frame coroutine)")
    print("  websockets = Frame(opcode, data).serialize(mask=..., extensions=[])")
    print("role".ljust(21) + "size".rjust(8) + "".join(name.rjust(width) for name in writers + ("bolt/aiohttp",)))
    for masked, role in ((False, "server"), (True, "client/masked")):
        for kind in ("binary", "text"):
            for size in WRITE_SIZES:
                check_writers(kind, masked, size)
                cases = writer_cases(kind, masked, size)
                per_call = {name: seconds_per_call(*case) for name, case in cases.items()}
                cells = [f"{1 / per_call[name] / 1e3:,.0f}" for name in writers]
                cells.append(f"{per_call['aiohttp'] / per_call['bolt']:.2f}x")
                label = f"{role} {kind}"
                print(label.ljust(21) + human_size(size).rjust(8) + "".join(c.rjust(width) for c in cells))

    print("\nParse speed, bolt compiled (feed) against aiohttp's Cython reader (target >= 1.00x at 2 B - 1 KiB):")
    for size in PARSE_SIZES:
        ratios = {kind: rates[kind, size]["bolt"] / rates[kind, size]["aiohttp"] for kind in ("binary", "text")}
        print(
            f"{human_size(size).rjust(8)}: bolt compiled / aiohttp = {ratios['binary']:.2f}x binary, "
            f"{ratios['text']:.2f}x text"
        )
    print(f"\n(total {time.perf_counter() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
