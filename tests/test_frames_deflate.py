"""permessage-deflate in the codec (RFC 7692 §6, §7), on both twins, fed every way.

Compressed frames are built here with zlib alone (``deflate`` below), so that what the parser is
tested on does not come from bolt's writer; the writer's output is inflated with zlib alone.
"""

from __future__ import annotations

import os
import random
import tracemalloc
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bolt._deflate import Deflater, Inflater
from bolt.exceptions import InvalidUTF8, MessageTooBig, ProtocolError
from tests.conftest import load_module
from tests.framing import outcome, parse_every_way, raw_frame

TEXT, BINARY, CLOSE, PING, CONT = 0x1, 0x2, 0x8, 0x9, 0x0
RSV1 = 0x40
TAIL = b"\x00\x00\xff\xff"
MiB = 1024 * 1024


@pytest.fixture(params=["compiled", "pure"])
def frames(request):
    return load_module(request.param, "frames")


def deflate(data: bytes, window_bits: int = 15) -> bytes:
    """One message compressed as RFC 7692 §7.2.1 says: a sync flush, its 00 00 ff ff removed."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -window_bits)
    output = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert output.endswith(TAIL)
    return output[:-4]


def inflate(payload: bytes) -> bytes:
    return zlib.decompressobj(-15).decompress(payload + TAIL)


def server_events(frames, data: bytes, max_message_size: int | None = 16 * MiB):
    """Parse what a client sent, whole, byte by byte and cut at random; (events, error)."""
    return parse_every_way(
        lambda: frames.FrameParser(max_message_size=max_message_size, inflater=Inflater()), data
    )


TEXT_MESSAGE = "héllo wörld, héllo wörld ✓ " * 20


# Receiving


def test_a_compressed_message_in_one_frame(frames):
    data = raw_frame(TEXT, deflate(TEXT_MESSAGE.encode()), rsv=RSV1)
    assert server_events(frames, data) == ([TEXT_MESSAGE], None)


def test_a_compressed_message_in_fragments(frames):
    compressed = deflate(TEXT_MESSAGE.encode())
    cuts = [0, 1, 7, len(compressed) // 2, len(compressed)]
    pieces = [compressed[a:b] for a, b in zip(cuts, cuts[1:])]
    data = b"".join(
        raw_frame(TEXT if i == 0 else CONT, piece, fin=i == len(pieces) - 1, rsv=RSV1 if i == 0 else 0)
        for i, piece in enumerate(pieces)
    )
    assert server_events(frames, data) == ([TEXT_MESSAGE], None)


def test_compressed_and_plain_messages_interleave_and_share_the_context(frames):
    """Context takeover (§7.2.3.2): the second message refers back to the first; a plain message
    between them (no RSV1) is not part of the compressed stream."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    first = (compressor.compress(b"repeat repeat repeat") + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    second = (compressor.compress(b"repeat repeat repeat") + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    assert len(second) < len(first)
    data = raw_frame(BINARY, first, rsv=RSV1) + raw_frame(TEXT, b"plain") + raw_frame(BINARY, second, rsv=RSV1)
    assert server_events(frames, data) == ([b"repeat repeat repeat", "plain", b"repeat repeat repeat"], None)


def test_an_empty_compressed_message(frames):
    assert server_events(frames, raw_frame(BINARY, b"", rsv=RSV1)) == ([b""], None)
    assert server_events(frames, raw_frame(TEXT, b"\x00", rsv=RSV1)) == ([""], None)


@pytest.mark.parametrize(
    "data, reason",
    [
        (raw_frame(TEXT, b"a", fin=False, rsv=RSV1) + raw_frame(CONT, b"b", rsv=RSV1), "reserved bits set on a continuation frame"),
        (raw_frame(PING, b"", rsv=RSV1), "reserved bits set on a control frame"),
        (raw_frame(TEXT, b"a", rsv=0x20), "reserved bits set without a negotiated extension"),
    ],
    ids=["continuation", "control", "rsv2"],
)
def test_rsv1_where_it_may_not_be_is_1002(frames, data, reason):
    events, error = server_events(frames, data)
    assert error == (ProtocolError, 1002, reason)


def test_rsv1_without_negotiation_is_1002(frames):
    data = raw_frame(TEXT, deflate(b"x" * 10), rsv=RSV1)
    events, error = parse_every_way(lambda: frames.FrameParser(), data)
    assert error == (ProtocolError, 1002, "reserved bits set without a negotiated extension")


def test_invalid_utf8_after_inflating_is_1007(frames):
    events, error = server_events(frames, raw_frame(TEXT, b"ok") + raw_frame(TEXT, deflate(b"\xff\xfe"), rsv=RSV1))
    assert events == ["ok"] and error == (InvalidUTF8, 1007, "invalid UTF-8 in a text message")


def test_invalid_utf8_in_a_fragmented_compressed_message_is_caught_at_its_fragment(frames):
    """Validated as it is inflated: the first fragment's bad byte fails the message before the
    rest of it is even sent."""
    compressed = deflate(b"\xff" + b"a" * 200)
    parser = frames.FrameParser(inflater=Inflater())
    with pytest.raises(InvalidUTF8):
        parser.feed(raw_frame(TEXT, compressed[: len(compressed) // 2], fin=False, rsv=RSV1))


def test_corrupt_compressed_data_is_1002(frames):
    events, error = server_events(frames, raw_frame(BINARY, b"\xff\xff\xff\xff", rsv=RSV1))
    assert error is not None and error[:2] == (ProtocolError, 1002)


def test_a_message_over_the_limit_once_inflated_is_1009(frames):
    data = raw_frame(BINARY, deflate(bytes(5000)), rsv=RSV1)
    events, error = server_events(frames, data, max_message_size=4096)
    assert error is not None and error[:2] == (MessageTooBig, 1009)
    # Exactly at the limit is fine.
    assert server_events(frames, data, max_message_size=5000) == ([bytes(5000)], None)


def test_a_fragmented_message_over_the_limit_once_inflated_is_1009_at_the_fragment(frames):
    compressed = deflate(bytes(100_000))
    half = len(compressed) // 2
    parser = frames.FrameParser(inflater=Inflater(), max_message_size=10_000)
    with pytest.raises(MessageTooBig):
        parser.feed(raw_frame(BINARY, compressed[:half], fin=False, rsv=RSV1))


def test_a_deflate_bomb_stops_at_the_limit_without_inflating_the_rest(frames):
    """A frame of about 1 MiB that would inflate to 1 GiB: 1009, having produced at most about the
    16 MiB limit, never the whole output."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(MiB)
    compressed = b"".join(compressor.compress(chunk) for _ in range(1024)) + compressor.flush(zlib.Z_SYNC_FLUSH)[:-4]
    assert len(compressed) < 2 * MiB
    data = raw_frame(BINARY, compressed, rsv=RSV1)
    parser = frames.FrameParser(inflater=Inflater(), max_message_size=16 * MiB)
    tracemalloc.start()
    try:
        with pytest.raises(MessageTooBig):
            parser.feed(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # zlib's output is built in blocks and joined (twice the limit at the peak), beside the frame
    # itself: tens of MiB, where inflating it all would take 1 GiB.
    assert peak < 3 * 16 * MiB, f"peak {peak / MiB:.0f} MiB"


def test_every_way_of_cutting_a_compressed_stream(frames):
    rng = random.Random(7)
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    messages, data = [], b""
    for i in range(12):
        text = i % 2 == 0
        payload = ("ünïcödé " * rng.randint(0, 40)).encode() if text else os.urandom(rng.randint(0, 300))
        compressed = (compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
        step = rng.randint(1, max(1, len(compressed)))
        pieces = [compressed[j : j + step] for j in range(0, len(compressed), step)] or [b""]
        for k, piece in enumerate(pieces):
            data += raw_frame((TEXT if text else BINARY) if k == 0 else CONT, piece, fin=k == len(pieces) - 1, rsv=RSV1 if k == 0 else 0)
        messages.append(payload.decode() if text else payload)
    assert server_events(frames, data) == (messages, None)


# Sending


@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
@pytest.mark.parametrize("fragment_size", [None, 5])
def test_the_writer_compresses_and_a_peer_inflates(frames, client, fragment_size):
    writer = frames.FrameWriter(client=client, fragment_size=fragment_size, deflater=Deflater(min_size=0))
    data = writer.text(TEXT_MESSAGE)
    assert data[0] & RSV1
    parser = frames.FrameParser(client=not client, inflater=Inflater())
    assert parser.feed(data + writer.binary(b"abc" * 500)) == [TEXT_MESSAGE, b"abc" * 500]


def test_the_trailing_00_00_ff_ff_is_removed_and_the_payload_is_plain_deflate(frames):
    writer = frames.FrameWriter(deflater=Deflater(min_size=0))
    frame = writer.binary(b"payload " * 100)
    events, error = outcome(frames.FrameParser(client=True), [frame])  # no inflater: RSV1 refused
    assert error is not None
    header = 2 if frame[1] < 126 else 4
    payload = frame[header:]
    assert not payload.endswith(TAIL) and inflate(payload) == b"payload " * 100


def test_context_takeover_and_reset(frames):
    kept = frames.FrameWriter(deflater=Deflater(min_size=0))
    reset = frames.FrameWriter(deflater=Deflater(min_size=0, reset=True))
    message = b"the same message, compressed twice " * 4
    assert len(kept.binary(message)) == len(reset.binary(message))
    assert len(kept.binary(message)) < len(reset.binary(message))  # the second refers to the first
    # Each of reset's messages inflates on its own, with a fresh inflater.
    parser = frames.FrameParser(client=True, inflater=Inflater(reset=True))
    assert parser.feed(reset.binary(message) + reset.binary(message)) == [message, message]


def test_window_bits_are_respected(frames):
    writer = frames.FrameWriter(deflater=Deflater(window_bits=9, min_size=0))
    payload = os.urandom(300) * 40  # repeats 300 bytes apart: within a 512-byte window
    frame = writer.binary(payload)
    header = 4
    assert zlib.decompressobj(-9).decompress(frame[header:] + TAIL) == payload


def test_small_messages_and_compress_false_go_out_plain(frames):
    writer = frames.FrameWriter(deflater=Deflater(min_size=128))
    assert not writer.text("x" * 127)[0] & RSV1
    assert writer.text("x" * 128)[0] & RSV1
    assert not writer.binary(b"x" * 1000, False)[0] & RSV1
    assert not writer.text("x" * 1000, compress=False)[0] & RSV1
    assert writer.text("é" * 100)[0] & RSV1  # 200 bytes of UTF-8, though 100 characters


def test_a_message_deflate_cannot_shrink_goes_out_plain_and_the_context_starts_afresh(frames):
    writer = frames.FrameWriter(deflater=Deflater(min_size=0))
    parser = frames.FrameParser(client=True, inflater=Inflater())
    first, noise, last = b"compressible " * 50, os.urandom(5000), b"compressible " * 50
    frames_out = [writer.binary(first), writer.binary(noise), writer.binary(last)]
    assert [bool(frame[0] & RSV1) for frame in frames_out] == [True, False, True]
    assert len(frames_out[1]) == 4 + 5000  # header and the bytes themselves, nothing added
    assert parser.feed(b"".join(frames_out)) == [first, noise, last]


def test_one_call_stops_inflating_past_its_budget_and_goes_on_when_asked(frames):
    """Many small frames that each inflate to 1 MiB: one call hands over about the budget (1 MiB)
    and says more is buffered, rather than inflating all of them at once."""
    one = raw_frame(BINARY, deflate(bytes(MiB)), rsv=RSV1)
    parser = frames.FrameParser(inflater=Inflater())
    events = parser.feed(one * 20)
    assert 1 <= len(events) <= 2 and parser.more
    total = len(events)
    while parser.more:
        events = parser.feed(b"")
        assert len(events) <= 2
        total += len(events)
    assert total == 20 and not parser.more


def test_control_frames_are_never_compressed(frames):
    writer = frames.FrameWriter(deflater=Deflater(min_size=0))
    for frame in (writer.ping(b"p" * 100), writer.pong(b"p" * 100), writer.close(1000, "r" * 100)):
        assert not frame[0] & RSV1


def test_the_twins_agree_on_compressed_streams():
    compiled, pure = load_module("compiled", "frames"), load_module("pure", "frames")
    rng = random.Random(11)
    for client in (False, True):
        writers = [m.FrameWriter(client=client, fragment_size=rng.choice([None, 7, 64]), deflater=Deflater(min_size=16)) for m in (compiled,)]
        writer = writers[0]
        stream = b""
        for _ in range(40):
            payload = os.urandom(rng.randint(0, 200)) if rng.random() < 0.5 else ("κόσμε " * rng.randint(0, 50))
            stream += writer.text(payload) if isinstance(payload, str) else writer.binary(payload)
        results = []
        for module in (compiled, pure):
            parser = module.FrameParser(client=not client, inflater=Inflater())
            chunks, pos = [], 0
            cut = random.Random(3)
            while pos < len(stream):
                step = cut.randint(1, 300)
                chunks.append(stream[pos : pos + step])
                pos += step
            results.append(outcome(parser, chunks))
        assert results[0] == results[1] and results[0][1] is None


# Fuzzing the inflate path: valid compressed streams, then mutated


@st.composite
def compressed_stream(draw):
    compressor = zlib.compressobj(draw(st.integers(0, 9)), zlib.DEFLATED, -draw(st.integers(9, 15)))
    data = bytearray()
    for _ in range(draw(st.integers(1, 4))):
        text = draw(st.booleans())
        payload = draw(st.text(max_size=300)).encode() if text else draw(st.binary(max_size=300))
        if draw(st.booleans()):
            payload *= draw(st.integers(1, 50))  # compressible
        compressed = (compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
        step = draw(st.integers(1, max(1, len(compressed))))
        pieces = [compressed[i : i + step] for i in range(0, len(compressed), step)] or [b""]
        for k, piece in enumerate(pieces):
            first = k == 0
            data += raw_frame((TEXT if text else BINARY) if first else CONT, piece, fin=k == len(pieces) - 1, rsv=RSV1 if first else 0)
    for _ in range(draw(st.integers(0, 3))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    points = sorted(draw(st.lists(st.integers(0, len(data)), max_size=5)))
    bounds = [0, *points, len(data)]
    return [bytes(data[a:b]) for a, b in zip(bounds, bounds[1:])]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(compressed_stream(), st.sampled_from([None, 100, 5000]))
def test_mutated_compressed_streams_give_the_same_documented_outcome_on_both_twins(chunks, limit):
    compiled, pure = load_module("compiled", "frames"), load_module("pure", "frames")
    results = [outcome(m.FrameParser(max_message_size=limit, inflater=Inflater()), chunks) for m in (compiled, pure)]
    assert results[0] == results[1]
    error = results[0][1]
    assert error is None or issubclass(error[0], ProtocolError)  # 1002, 1007 or 1009, never a crash
