"""Bounded fuzzing of the frame parser for CI: structured and raw inputs through ``check_frames``
(both implementations, both input paths, agree; only ProtocolError escapes; no hang)."""

from __future__ import annotations

import struct
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import load_module
from tests.fuzz.strategies import frame_streams
from tests.fuzz.targets import check_frames

# Per input: far more than a parse of a few hundred bytes ever needs; a hang fails the test.
HANG = 2.0
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def timed(check, data: bytes) -> None:
    start = time.perf_counter()
    check(data)
    assert time.perf_counter() - start < HANG, f"{check.__name__} took over {HANG} s on {data!r}"


@SETTINGS
@given(frame_streams())
@example(b"\x00\x00\x81\x85\x01\x02\x03\x04ifmmp")
@example(b"\x07\x01" + b"\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00")
@example(b"\x00\x00\x01\xfe\xff\xff\x00\x00\x00\x00")
def test_frame_parser_structured(data):
    timed(check_frames, data)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=2, max_size=300))
def test_frame_parser_raw_bytes(data):
    timed(check_frames, data)


@pytest.mark.parametrize("implementation", ["compiled", "pure"])
def test_get_buffer_survives_a_header_announcing_a_huge_frame(implementation):
    module = load_module(implementation, "frames")
    parser = module.FrameParser(max_message_size=None)
    header = bytes([0x82, 0xFF]) + struct.pack("!Q", 1 << 62) + b"\x00\x00\x00\x00"
    assert parser.feed(header + b"x") == []
    view = parser.get_buffer(-1)  # what asyncio calls before the next read
    assert 0 < len(view) <= 1 << 30
    view.release()
