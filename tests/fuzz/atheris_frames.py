"""Long fuzzing runs of the frame parser by hand (atheris, coverage-guided by the pure parser):

    pip install atheris
    nice -n 19 python -m tests.fuzz.atheris_frames -atheris_runs=5000000
    nice -n 19 python -m tests.fuzz.atheris_frames -max_total_time=600 my-corpus-dir

The target is ``tests.fuzz.targets.check_frames``: input = [options byte][cut seed byte][stream].
"""

from __future__ import annotations

import struct


def _frame(opcode: int, payload: bytes, *, fin: bool = True, key: bytes | None = b"\x01\x02\x03\x04") -> bytes:
    size = len(payload)
    first = (0x80 if fin else 0) | opcode
    bit = 0x80 if key is not None else 0
    header = bytes([first, bit | size]) if size < 126 else bytes([first, bit | 126]) + struct.pack("!H", size)
    if key is None:
        return header + payload
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def seeds() -> list[bytes]:
    stream = (
        _frame(0x1, "κόσμε".encode())
        + _frame(0x2, bytes(range(200)))
        + _frame(0x1, b"frag", fin=False)
        + _frame(0x9, b"ping")
        + _frame(0x0, b"ment")
        + _frame(0x8, b"\x03\xe8bye")
    )
    client_stream = _frame(0x1, b"hello", key=None) + _frame(0xA, b"", key=None)
    return [
        b"\x00\x00" + stream,
        b"\x00\x01" + stream,
        b"\x05\x07" + stream,
        b"\x40\x03" + _frame(0x1 | 0x40, b"\xf2H\xcd\xc9\xc9\x07\x00"),
        b"\x20\x00" + client_stream,
        b"\x00\x00" + _frame(0x1, b"\xed\xa0\x80"),
    ]


if __name__ == "__main__":
    from tests.fuzz._atheris_main import run

    run("check_frames", seeds())
