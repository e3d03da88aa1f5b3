"""Large messages without copies: a single-frame message of 64 KiB to 16 MiB is received straight
into the object the application gets (``DIRECT_SIZE``), and a large message a server sends leaves as
its header and its payload, apart (``FrameWriter(zero_copy=True)``).

Both twins, both roles (a server's masked input, a client's unmasked one), text (ASCII and mixed
scripts) and binary, fed whole, byte by byte, cut at random, and read the way the event loop reads
(``get_buffer``/``buffer_updated`` with reads of random sizes), with frames before and after.
"""

from __future__ import annotations

import random

import pytest

from bolt.exceptions import InvalidState, InvalidUTF8
from tests.conformance.client import BINARY, PING, TEXT, frame
from tests.conftest import load_module

KiB = 1024
MiB = 1024 * KiB
MIXED = "Grüße, 世界! 🎉 "  # Latin, CJK, an emoji: 1 to 4 bytes a character


@pytest.fixture(params=["compiled", "pure"])
def frames(request):
    return load_module(request.param, "frames")


def blob(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def ascii_text(size: int) -> str:
    return ("the quick brown fox jumps over the lazy dog 0123456789 " * (size // 50 + 1))[:size]


def mixed_text(size: int) -> str:
    """About ``size`` bytes of UTF-8, cut on a character boundary."""
    return (MIXED * (size // len(MIXED.encode()) + 1)).encode()[:size].decode("utf-8", "ignore")


def wire(message: str | bytes, *, client: bool) -> bytes:
    """``message`` as the peer of a server (masked) or of a client (unmasked) sends it."""
    opcode, payload = (TEXT, message.encode()) if isinstance(message, str) else (BINARY, message)
    return frame(opcode, payload, masked=not client)


MESSAGES = {
    "binary 64 KiB - 1": lambda: blob(64 * KiB - 1),
    "binary 64 KiB": lambda: blob(64 * KiB, 1),
    "binary 1 MiB": lambda: blob(MiB, 2),
    "ascii 64 KiB": lambda: ascii_text(64 * KiB),
    "ascii 300 KiB": lambda: ascii_text(300 * KiB),
    "mixed scripts 100 KiB": lambda: mixed_text(100 * KiB),
    # Non-ASCII only at the very end: the ASCII fast path must notice the last read.
    "ascii then an emoji": lambda: ascii_text(200 * KiB) + "🎉",
}


def stream_for(message, client: bool) -> tuple[bytes, list]:
    """A ping, the large message, then a small text message: the bytes and the expected events."""
    data = frame(PING, b"hi", masked=not client) + wire(message, client=client) + wire("after", client=client)
    return data, [message, "after"]


def parse_fed(parser, data: bytes, cuts: list[int]) -> list:
    events, previous = [], 0
    for cut in [*cuts, len(data)]:
        events += parser.feed(data[previous:cut])
        previous = cut
    return events


def parse_read(parser, data: bytes, rng: random.Random) -> tuple[list, int]:
    """Read as an event loop does: into get_buffer()'s view, at most what it offers; returns the
    events and the largest view offered."""
    events, position, largest = [], 0, 0
    while position < len(data):
        view = parser.get_buffer(-1)
        largest = max(largest, len(view))
        size = min(len(view), len(data) - position, rng.choice([1, 7, 1000, 70_000, 300_000]))
        view[:size] = data[position : position + size]
        del view
        position += size
        events += parser.buffer_updated(size)
    return events, largest


@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
@pytest.mark.parametrize("name", MESSAGES)
def test_whole_cut_at_random_and_read_like_a_loop(frames, name, client):
    message = MESSAGES[name]()
    data, expected = stream_for(message, client)
    whole = frames.FrameParser(client=client)
    assert parse_fed(whole, data, []) == expected
    assert whole.take_pongs()  # the ping before the message was answered
    for seed in range(4):
        rng = random.Random(seed)
        cuts = sorted(rng.sample(range(1, len(data)), 6))
        parser = frames.FrameParser(client=client)
        events = parse_fed(parser, data, cuts)
        assert events == expected, (seed, cuts)
        assert [type(event) for event in events] == [type(message), str]
        events, _ = parse_read(frames.FrameParser(client=client), data, rng)
        assert events == expected, seed


def test_byte_by_byte(frames):
    message = blob(64 * KiB, 3)
    data, expected = stream_for(message, client=False)
    parser = frames.FrameParser()
    events = []
    for index in range(len(data)):
        events += parser.feed(data[index : index + 1])
    assert events == expected
    assert parser.buffered == 0


def test_the_read_buffer_does_not_grow_to_the_message(frames):
    """The payload goes into the message: the parser's own buffer stays at its small size, and no
    read is offered more than 256 KiB (memory is taken as the bytes come)."""
    data, expected = stream_for(blob(4 * MiB), client=False)
    parser = frames.FrameParser()
    events, largest = parse_read(parser, data, random.Random(5))
    assert events == expected
    assert largest <= 256 * KiB
    assert len(parser.get_buffer(-1)) < 256 * KiB


def test_buffered_counts_the_payload_received_so_far(frames):
    data = wire(blob(MiB), client=False)
    parser = frames.FrameParser()
    assert parser.feed(data[:1000]) == []
    assert parser.buffered == 1000 - 14  # the header (2 + 8 + a 4-byte key) is consumed
    assert parser.feed(data[1000:-1]) == []
    assert parser.buffered == MiB - 1
    assert parser.feed(data[-1:]) == [blob(MiB)]
    assert parser.buffered == 0


@pytest.mark.parametrize("where", [100, 70 * KiB, 200 * KiB - 1])
def test_invalid_utf8_is_refused_as_it_arrives(frames, where):
    """§8.1 fail fast: a text frame received directly is validated read by read, so bytes that
    cannot be UTF-8 are refused before the rest of the frame arrives."""
    payload = bytearray(ascii_text(200 * KiB).encode())
    payload[where] = 0xFF
    data = frame(TEXT, bytes(payload))
    parser = frames.FrameParser()
    bad = where + 14  # the header is 14 bytes
    first = min(bad, 1000)  # the frame's start, but not the bad byte
    assert parser.feed(data[:first]) == []
    with pytest.raises(InvalidUTF8):
        parse_fed(parser, data[first : bad + 1], [])
    with pytest.raises(InvalidState):
        parser.feed(b"x")


def test_a_text_message_ending_inside_a_character_is_refused(frames):
    payload = ascii_text(100 * KiB).encode() + "é".encode()[:1]
    parser = frames.FrameParser()
    with pytest.raises(InvalidUTF8):
        parse_fed(parser, frame(TEXT, payload), [5000, 50_000])


def test_frames_over_16_mib_take_the_buffer_path(frames):
    """Above DIRECT_MAX (only with a raised limit) nothing is allocated before it arrives."""
    message = blob(16 * MiB + 1, 6)
    parser = frames.FrameParser(max_message_size=32 * MiB)
    assert parse_fed(parser, wire(message, client=False), [100, 5 * MiB]) == [message]


# Sending apart


@pytest.mark.parametrize("size", [64 * KiB - 1, 64 * KiB, MiB])
def test_zero_copy_binary_is_the_header_and_the_payload_itself(frames, size):
    payload = blob(size)
    whole = frames.FrameWriter().binary(payload)
    sent = frames.FrameWriter(zero_copy=True).binary(payload)
    if size < 64 * KiB:
        assert sent == whole
        return
    header, body = sent
    assert body is payload  # not copied
    assert header + body == whole


@pytest.mark.parametrize("text", [ascii_text(MiB), mixed_text(100 * KiB)], ids=["ascii", "mixed"])
def test_zero_copy_text(frames, text):
    header, body = frames.FrameWriter(zero_copy=True).text(text)
    assert header + bytes(body) == frames.FrameWriter().text(text)


def test_what_can_change_or_is_masked_is_copied(frames):
    data = bytearray(blob(MiB))
    frame_bytes = frames.FrameWriter(zero_copy=True).binary(data)
    assert type(frame_bytes) is bytes  # a bytearray may change after the call: copied
    data[:4] = b"XXXX"
    assert frame_bytes[10:14] != b"XXXX"
    masked = frames.FrameWriter(client=True, zero_copy=True).binary(bytes(data))
    assert type(masked) is bytes and len(masked) == MiB + 14


def test_zero_copy_frames_parse_back(frames):
    """What a zero-copy server writes, a client's parser reads back, as the message."""
    writer = frames.FrameWriter(zero_copy=True)
    for message in (blob(MiB), ascii_text(MiB), mixed_text(MiB)):
        header, body = writer.text(message) if isinstance(message, str) else writer.binary(message)
        assert frames.FrameParser(client=True).feed(header + bytes(body)) == [message]
