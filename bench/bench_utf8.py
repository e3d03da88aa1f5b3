"""How fast bolt validates UTF-8, against building the str with CPython's decoder.

    PYTHONPATH=. python bench/bench_utf8.py      (from the checkout, with utf8.pyx built in place)

Prints one table: throughput in MB/s (10^6 bytes a second, best of a few short runs) for each payload
kind and size. The columns:

  compiled whole   bolt._speedups.utf8.is_valid_utf8(payload)
  compiled 4K      bolt._speedups.utf8.Utf8Validator().feed() in 4 KiB pieces, then .complete
  pure whole       bolt._pure.utf8.is_valid_utf8(payload)
  bytes.decode     payload.decode("utf-8"), which validates and also builds the str
  codecs 4K        codecs' incremental UTF-8 decoder fed 4 KiB pieces (what the pure validator runs on)

The question it answers: where does validating alone beat ``bytes.decode``, which builds the str a
text message needs anyway?
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable

from bolt._pure import utf8 as pure

try:
    from bolt._speedups import utf8 as compiled
except ImportError:
    compiled = None

SIZES = (16, 256, 4 * 1024, 64 * 1024, 1024 * 1024)
PIECE = 4 * 1024
SECONDS_PER_CELL = 0.1
REPEATS = 3

TEXTS = {
    "ascii": "The quick brown fox jumps over the lazy dog; 0123456789 {\"id\": 42, \"ok\": true}\n",
    "latin/greek/cjk": "Grüße aus Köln, ça va? Καλημέρα κόσμε, τι κάνεις; 你好，世界。今日は良い天気ですね。",
    "emoji": "🙂🚀🎉👍🔥✨😂🌍💡🎵🐍🍕",
}


def payload(text: str, size: int) -> bytes:
    """``text`` repeated, encoded and cut at the last character boundary at or below ``size`` bytes."""
    encoded = (text * (size // len(text.encode()) + 1)).encode()[:size]
    return encoded.decode("utf-8", "ignore").encode()


def feed_in_pieces(data: bytes) -> bool:
    validator = compiled.Utf8Validator()
    view = memoryview(data)
    for start in range(0, len(data), PIECE):
        validator.feed(view[start : start + PIECE])
    return validator.complete


def decode_in_pieces(data: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    for start in range(0, len(data), PIECE):
        decoder.decode(view[start : start + PIECE])
    decoder.decode(b"", True)
    return True


def candidates() -> dict[str, Callable[[bytes], object] | None]:
    return {
        "compiled whole": compiled.is_valid_utf8 if compiled else None,
        "compiled 4K": feed_in_pieces if compiled else None,
        "pure whole": pure.is_valid_utf8,
        "bytes.decode": bytes.decode,
        "codecs 4K": decode_in_pieces,
    }


def megabytes_per_second(function: Callable[[bytes], object], data: bytes) -> float:
    """Best throughput of REPEATS runs sharing SECONDS_PER_CELL, after one call to size the runs."""
    started = time.perf_counter()
    function(data)
    once = max(time.perf_counter() - started, 1e-7)
    calls = max(1, int(SECONDS_PER_CELL / REPEATS / once))
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        for _ in range(calls):
            function(data)
        best = min(best, (time.perf_counter() - started) / calls)
    return len(data) / best / 1e6


def size_label(size: int) -> str:
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= scale:
            return f"{size // scale} {unit}"
    return f"{size} B"


def main() -> None:
    columns = candidates()
    header = f"{'payload':<16} {'size':>7} " + " ".join(f"{name:>15}" for name in columns)
    print("UTF-8 validation throughput, MB/s (higher is better)")
    print(header)
    print("-" * len(header))
    for kind, text in TEXTS.items():
        for size in SIZES:
            data = payload(text, size)
            for function in columns.values():
                assert function is None or function(data) in (True, data.decode())
            cells = [
                f"{megabytes_per_second(function, data):>15,.0f}" if function else f"{'n/a':>15}"
                for function in columns.values()
            ]
            print(f"{kind:<16} {size_label(size):>7} " + " ".join(cells))


if __name__ == "__main__":
    main()
