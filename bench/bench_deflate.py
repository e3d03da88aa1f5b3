"""permessage-deflate's engine: the pure twin (the zlib module) beside the compiled one (zlib's C API).

    python bench/bench_deflate.py            (from the checkout, with deflate.pyx built in place)
    python bench/bench_deflate.py --quick    (shorter cells, noisier)

For JSON-like text and random bytes at 1 KiB, 64 KiB and 1 MiB, the time per message (µs) of:

  compress   ``Deflater().compress(message)``: the payload, or None for random bytes (sent plain)
  inflate    ``Inflater().inflate(payload, limit)`` then ``finish(limit)``, as the frame parser calls
             them for a message that came in one frame, with a 16 MiB limit. The random payloads are
             what a peer that compresses every message sends (a browser does): deflate's output for
             random bytes, a little longer than the input, which bolt itself would send plain.

with context takeover (the default: one Deflater and one Inflater for a stream of messages) and
without it (``reset=True``: every message starts from a fresh zlib context, made and freed per
message). Each cell cycles through 8 different messages of that kind and size, so that takeover
does not see the same message twice in a row. zlib settings: window 15, level 6, memLevel 8.

Time is this thread's CPU time (``time.thread_time``), best of 3 runs of about CELL seconds each,
the two engines taking turns within each repeat. The ratio is pure / compiled: above 1, the compiled
engine is faster. Both engines run the same zlib, so the ratio is what the Python layer costs.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bolt._pure import deflate as pure
from bolt._speedups import deflate as compiled

KiB = 1024
MiB = 1024 * KiB
SIZES = [KiB, 64 * KiB, MiB]
MESSAGES_PER_CELL = 8
LIMIT = 16 * MiB
REPEATS = 3
CELL_SECONDS = 0.3
CLOCK = time.thread_time
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]


def json_like(size: int, seed: int) -> bytes:
    """API or chat traffic: the same keys again and again, varying values."""
    rng = random.Random(seed)
    parts, total = [], 0
    while total < size:
        part = (
            f'{{"id": {rng.randrange(10**9)}, "user": "{rng.choice(WORDS)}_{rng.randrange(10**4)}", '
            f'"tags": ["{rng.choice(WORDS)}", "{rng.choice(WORDS)}"], "score": {rng.random():.6f}, '
            f'"active": {str(rng.random() < 0.5).lower()}, "note": "{" ".join(rng.choices(WORDS, k=4))}"}}\n'
        )
        parts.append(part)
        total += len(part)
    return "".join(parts).encode()[:size]


def messages(kind: str, size: int) -> list[bytes]:
    if kind == "json":
        return [json_like(size, seed) for seed in range(MESSAGES_PER_CELL)]
    return [os.urandom(size) for _ in range(MESSAGES_PER_CELL)]


def peer_payloads(batch: list[bytes], reset: bool) -> list[bytes]:
    """What a peer that compresses every message sends for ``batch``, in order (RFC 7692 §7.2.1)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15, 8)
    payloads = []
    for message in batch:
        if reset:
            compressor = zlib.compressobj(6, zlib.DEFLATED, -15, 8)
        payloads.append((compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4])
    return payloads


def compress_run(module, batch: list[bytes], reset: bool):
    def run(rounds: int) -> None:
        compress = module.Deflater(reset=reset, min_size=0).compress
        for _ in range(rounds):
            for message in batch:
                compress(message)

    return run


def inflate_run(module, payloads: list[bytes], reset: bool):
    def run(rounds: int) -> None:
        for _ in range(rounds):
            # A fresh inflater per pass: with takeover, the payloads only inflate in their order.
            inflater = module.Inflater(reset=reset)
            inflate, finish = inflater.inflate, inflater.finish
            for payload in payloads:
                data = inflate(payload, LIMIT)
                finish(LIMIT - len(data))

    return run


def check(batch: list[bytes], payloads: list[bytes], reset: bool) -> None:
    """Both engines give the same results on these messages before anything is timed."""
    deflaters = [m.Deflater(reset=reset, min_size=0) for m in (compiled, pure)]
    inflaters = [m.Inflater(reset=reset) for m in (compiled, pure)]
    for message, payload in zip(batch, payloads):
        sent = [d.compress(message) for d in deflaters]
        assert sent[0] == sent[1], "the engines compressed differently"
        for inflater in inflaters:
            data = inflater.inflate(payload, LIMIT)
            assert data + inflater.finish(LIMIT - len(data)) == message, "inflated the wrong bytes"


def best_per_message(runs: dict, count: int) -> dict:
    """µs per message for each run, best of REPEATS; the runs take turns within each repeat."""
    rounds = {}
    for name, run in runs.items():  # how many passes over the batch fill a cell
        start = CLOCK()
        run(1)
        elapsed = max(CLOCK() - start, 1e-6)
        rounds[name] = max(1, int(CELL_SECONDS / elapsed))
    best = {name: float("inf") for name in runs}
    for _ in range(REPEATS):
        for name, run in runs.items():
            start = CLOCK()
            run(rounds[name])
            elapsed = CLOCK() - start
            best[name] = min(best[name], elapsed / (rounds[name] * count) * 1e6)
    return best


def size_name(size: int) -> str:
    return f"{size // MiB} MiB" if size >= MiB else f"{size // KiB} KiB"


def main() -> None:
    global CELL_SECONDS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="0.05 s cells instead of 0.3 s")
    options = parser.parse_args()
    if options.quick:
        CELL_SECONDS = 0.05
    print(f"zlib {compiled.ZLIB_RUNTIME_VERSION} (compiled engine), {zlib.ZLIB_RUNTIME_VERSION} (zlib module); "
          f"Python {sys.version.split()[0]}; best of {REPEATS} x {CELL_SECONDS} s, CPU time")
    for reset in (False, True):
        print()
        print("without context takeover (reset=True)" if reset else "with context takeover (default)")
        header = f"{'data':<6} {'size':>7} {'op':<9} {'wire/msg':>9} {'pure µs':>11} {'compiled µs':>12} {'ratio':>6}"
        print(header)
        print("-" * len(header))
        for kind in ("json", "random"):
            for size in SIZES:
                batch = messages(kind, size)
                payloads = peer_payloads(batch, reset)
                check(batch, payloads, reset)
                sent = [compiled.Deflater(reset=reset, min_size=0).compress(m) for m in batch]
                wire = sum(len(m) if s is None else len(s) for m, s in zip(batch, sent)) / sum(map(len, batch))
                cells = {
                    "compress": {m.__name__: compress_run(m, batch, reset) for m in (pure, compiled)},
                    "inflate": {m.__name__: inflate_run(m, payloads, reset) for m in (pure, compiled)},
                }
                for op, runs in cells.items():
                    result = best_per_message(runs, len(batch))
                    slow, fast = result[pure.__name__], result[compiled.__name__]
                    ratio = wire if op == "compress" else sum(map(len, payloads)) / sum(map(len, batch))
                    print(
                        f"{kind:<6} {size_name(size):>7} {op:<9} {ratio:>9.3f} {slow:>11.1f} {fast:>12.1f} "
                        f"{slow / fast:>6.2f}"
                    )
    print()
    print("wire/msg: bytes on the wire per byte of message (compress: what bolt sends, plain when")
    print("deflate does not shrink it; inflate: what the compress-everything peer sent).")


if __name__ == "__main__":
    main()
