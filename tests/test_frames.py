"""The frame parser and writer, each case against both implementations and fed every way."""

from __future__ import annotations

import os

import pytest

from bolt.events import Close, Pong
from bolt.exceptions import InvalidState, InvalidUTF8, MessageTooBig, ProtocolError
from tests.conftest import load_module
from tests.framing import outcome, parse_every_way, raw_frame
from tests.test_frames_pongs import every_way, pong_frame, unmask_frames

TEXT, BINARY, CLOSE, PING, PONG, CONT = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
RSV1, RSV2, RSV3 = 0x40, 0x20, 0x10
# The start of a frame that never completes, to show trailing bytes do not disturb what came before.
TRAILING_MASKED = raw_frame(BINARY, b"never finished")[:9]
TRAILING_UNMASKED = raw_frame(BINARY, b"never finished", key=None)[:5]


@pytest.fixture(params=["compiled", "pure"])
def frames(request):
    return load_module(request.param, "frames")


def server_events(frames, data: bytes, **options):
    """Parse what a client sent, every way, and return (events, error)."""
    return parse_every_way(lambda: frames.FrameParser(**options), data, TRAILING_MASKED)


def client_events(frames, data: bytes, **options):
    return parse_every_way(lambda: frames.FrameParser(client=True, **options), data, TRAILING_UNMASKED)


# RFC 6455 §5.7, byte for byte


def test_rfc_single_frame_unmasked_text(frames):
    assert client_events(frames, bytes.fromhex("810548656c6c6f")) == (["Hello"], None)


def test_rfc_single_frame_masked_text(frames):
    data = bytes.fromhex("818537fa213d7f9f4d5158")
    assert server_events(frames, data) == (["Hello"], None)


def test_rfc_fragmented_unmasked_text(frames):
    data = bytes.fromhex("010348656c") + bytes.fromhex("80026c6f")
    assert client_events(frames, data) == (["Hello"], None)


def test_rfc_ping_and_masked_pong(frames):
    # A ping makes no event: the parser answers it (tests/test_frames_pongs.py).
    assert client_events(frames, bytes.fromhex("890548656c6c6f")) == ([], None)
    assert server_events(frames, bytes.fromhex("8a8537fa213d7f9f4d5158")) == ([Pong(b"Hello")], None)


def test_rfc_binary_with_16_and_64_bit_lengths(frames):
    payload = os.urandom(256)
    assert client_events(frames, bytes.fromhex("827e0100") + payload) == ([payload], None)
    big = os.urandom(65536)
    parser = frames.FrameParser(client=True)
    assert parser.feed(bytes.fromhex("827f0000000000010000") + big) == [big]


def test_writer_reproduces_rfc_examples(frames):
    writer = frames.FrameWriter()
    assert writer.text("Hello") == bytes.fromhex("810548656c6c6f")
    assert writer.ping(b"Hello") == bytes.fromhex("890548656c6c6f")
    assert writer.binary(b"\x00" * 256)[:4] == bytes.fromhex("827e0100")
    assert writer.binary(b"\x00" * 65536)[:10] == bytes.fromhex("827f0000000000010000")
    masked = frames.encode_frame(TEXT, b"Hello", mask_key=bytes.fromhex("37fa213d"))
    assert masked == bytes.fromhex("818537fa213d7f9f4d5158")


# Messages, fragments and control frames


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 100_000])
def test_every_length_encoding_round_trips(frames, size):
    payload = os.urandom(size)
    data = raw_frame(BINARY, payload)
    events, error = outcome(frames.FrameParser(), [data])
    assert error is None and events == [payload]


def test_non_minimal_length_encodings_are_accepted(frames):
    data = raw_frame(TEXT, b"hi", length_bytes=2) + raw_frame(TEXT, b"yo", length_bytes=8)
    assert server_events(frames, data) == (["hi", "yo"], None)


def test_many_frames_in_one_chunk(frames):
    messages = [f"message {i} é" for i in range(50)]
    data = b"".join(raw_frame(TEXT, m.encode()) for m in messages)
    events, error = server_events(frames, data)
    assert error is None and events == [m for m in messages]


def test_control_frames_between_fragments(frames):
    data = (
        raw_frame(TEXT, "κό".encode(), fin=False)
        + raw_frame(PING, b"p1")
        + raw_frame(CONT, "σμ".encode(), fin=False)
        + raw_frame(PONG, b"p2")
        + raw_frame(CONT, "ε".encode())
        + raw_frame(BINARY, b"\x00\x01", fin=False)
        + raw_frame(CONT, b"", fin=False)
        + raw_frame(PING, b"")
        + raw_frame(CONT, b"\x02")
    )
    events, error, pongs = every_way(frames, data + TRAILING_MASKED, client=False)
    assert error is None
    assert events == [Pong(b"p2"), "κόσμε", b"\x00\x01\x02"]
    assert pongs == pong_frame(b"p1") + pong_frame(b"")


def test_fragmented_binary_with_empty_fragments(frames):
    data = raw_frame(BINARY, b"", fin=False) + raw_frame(CONT, b"ab", fin=False) + raw_frame(CONT, b"", fin=False) + raw_frame(CONT, b"c")
    assert server_events(frames, data) == ([b"abc"], None)


def test_utf8_sequence_split_across_fragments(frames):
    encoded = "€𝄞".encode()
    for cut in range(1, len(encoded)):
        data = raw_frame(TEXT, encoded[:cut], fin=False) + raw_frame(CONT, encoded[cut:])
        assert server_events(frames, data) == (["€𝄞"], None)


@pytest.mark.parametrize(
    "payload, expected",
    [(b"", Close(None, "")), (b"\x03\xe8", Close(1000, "")), (b"\x0f\xa1bye \xc3\xa9", Close(4001, "bye é"))],
)
def test_close_frames(frames, payload, expected):
    assert server_events(frames, raw_frame(CLOSE, payload)) == ([expected], None)


# Every rule that decides a close code (RFC 6455 §5, §7; DESIGN.md's table)

VIOLATIONS = [
    ("rsv1 without extension", raw_frame(TEXT, b"x", rsv=RSV1), 1002),
    ("rsv2", raw_frame(BINARY, b"x", rsv=RSV2), 1002),
    ("rsv3", raw_frame(BINARY, b"x", rsv=RSV3), 1002),
    ("rsv on control", raw_frame(PING, b"", rsv=RSV1), 1002),
    ("reserved data opcode", raw_frame(0x3, b"x"), 1002),
    ("reserved data opcode 7", raw_frame(0x7, b"x"), 1002),
    ("reserved control opcode", raw_frame(0xB, b"x"), 1002),
    ("reserved control opcode f", raw_frame(0xF, b""), 1002),
    ("unmasked client frame", raw_frame(TEXT, b"hi", key=None), 1002),
    ("fragmented ping", raw_frame(PING, b"x", fin=False), 1002),
    ("ping over 125", raw_frame(PING, b"x" * 126), 1002),
    ("close over 125", raw_frame(CLOSE, b"\x03\xe8" + b"x" * 124), 1002),
    ("lonely continuation", raw_frame(CONT, b"x"), 1002),
    ("data inside fragmented", raw_frame(TEXT, b"a", fin=False) + raw_frame(BINARY, b"b"), 1002),
    ("text inside fragmented", raw_frame(TEXT, b"a", fin=False) + raw_frame(TEXT, b"b"), 1002),
    ("one-byte close", raw_frame(CLOSE, b"\x03"), 1002),
    ("close code 999", raw_frame(CLOSE, b"\x03\xe7"), 1002),
    ("close code 1004", raw_frame(CLOSE, b"\x03\xec"), 1002),
    ("close code 1005", raw_frame(CLOSE, b"\x03\xed"), 1002),
    ("close code 1006", raw_frame(CLOSE, b"\x03\xee"), 1002),
    ("close code 1015", raw_frame(CLOSE, b"\x03\xf7"), 1002),
    ("close code 1016", raw_frame(CLOSE, b"\x03\xf8"), 1002),
    ("close code 2999", raw_frame(CLOSE, b"\x0b\xb7"), 1002),
    ("close code 5000", raw_frame(CLOSE, b"\x13\x88"), 1002),
    ("close code 0", raw_frame(CLOSE, b"\x00\x00"), 1002),
    ("64-bit length top bit", raw_frame(BINARY, b"", length=1 << 63, length_bytes=8), 1002),
    ("invalid utf-8 text", raw_frame(TEXT, b"\xff"), 1007),
    ("surrogate text", raw_frame(TEXT, b"\xed\xa0\x80"), 1007),
    ("truncated utf-8 text", raw_frame(TEXT, "é".encode()[:1]), 1007),
    ("truncated across fragments", raw_frame(TEXT, b"a", fin=False) + raw_frame(CONT, b"\xc3"), 1007),
    ("invalid utf-8 in a fragment", raw_frame(TEXT, b"a", fin=False) + raw_frame(CONT, b"\xc0\xaf", fin=False), 1007),
    ("invalid utf-8 close reason", raw_frame(CLOSE, b"\x03\xe8\xff"), 1007),
]


@pytest.mark.parametrize("name, data, code", VIOLATIONS, ids=[v[0] for v in VIOLATIONS])
def test_violation_closes_with_the_right_code(frames, name, data, code):
    events, error = server_events(frames, data)
    assert events == []
    assert error is not None and error[1] == code, error


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999])
def test_valid_close_codes_are_accepted(frames, code):
    assert server_events(frames, raw_frame(CLOSE, code.to_bytes(2, "big"))) == ([Close(code, "")], None)


def test_masked_server_frame_is_refused_by_a_client(frames):
    events, error = client_events(frames, raw_frame(TEXT, b"hi"))
    assert error == (ProtocolError, 1002, "masked frame from a server")


def test_events_before_a_violation_are_kept(frames):
    data = raw_frame(TEXT, b"first") + raw_frame(PING, b"p") + raw_frame(0x3, b"bad") + raw_frame(TEXT, b"never")
    events, error, pongs = every_way(frames, data, client=False)
    assert events == ["first"]
    assert error == (ProtocolError, 1002, "reserved opcode 0x3")
    assert pongs == pong_frame(b"p")


def test_feeding_after_a_failure_is_local_misuse(frames):
    parser = frames.FrameParser()
    with pytest.raises(ProtocolError):
        parser.feed(raw_frame(0x3, b""))
    with pytest.raises(InvalidState):
        parser.feed(raw_frame(TEXT, b"ok"))


# Fail fast: refused from the header or from the bytes so far, before the rest arrives


def test_violations_are_found_from_the_first_two_bytes(frames):
    for data in (raw_frame(0x3, b"x" * 1000), raw_frame(PING, b"", fin=False), raw_frame(TEXT, b"x", key=None)):
        with pytest.raises(ProtocolError):
            frames.FrameParser().feed(data[:2])


def test_oversized_frame_is_refused_from_its_header(frames):
    parser = frames.FrameParser(max_frame_size=1000)
    header = raw_frame(BINARY, b"", length=1001)
    with pytest.raises(MessageTooBig) as caught:
        parser.feed(header)
    assert caught.value.close_code == 1009


def test_oversized_message_is_refused_from_the_header_that_passes_the_limit(frames):
    parser = frames.FrameParser(max_message_size=10)
    assert parser.feed(raw_frame(TEXT, b"12345", fin=False)) == []
    with pytest.raises(MessageTooBig):
        parser.feed(raw_frame(CONT, b"", length=6))


def test_huge_declared_length_is_refused_without_buffering(frames):
    parser = frames.FrameParser()
    with pytest.raises(MessageTooBig):
        parser.feed(raw_frame(BINARY, b"", length=1 << 40))
    assert parser.buffered < 100


def test_message_exactly_at_the_limit_is_accepted(frames):
    parser = frames.FrameParser(max_message_size=10)
    data = raw_frame(BINARY, b"12345", fin=False) + raw_frame(PING, b"") + raw_frame(CONT, b"67890")
    assert parser.feed(data) == [b"1234567890"]
    assert parser.take_pongs() == pong_frame(b"")


def test_invalid_utf8_is_refused_while_the_frame_is_still_arriving(frames):
    payload = b"valid start " + b"\xed\xa0\x80" + b"x" * 1000
    data = raw_frame(TEXT, payload)
    parser = frames.FrameParser()
    with pytest.raises(InvalidUTF8):
        parser.feed(data[: 8 + 12 + 2])  # header, the valid part and ED A0: no valid continuation exists


def test_invalid_utf8_in_a_later_fragment_is_refused_before_the_message_ends(frames):
    parser = frames.FrameParser()
    assert parser.feed(raw_frame(TEXT, b"ok", fin=False)) == []
    with pytest.raises(InvalidUTF8):
        parser.feed(raw_frame(CONT, b"\xf5", fin=False))


def test_partial_valid_text_is_not_refused(frames):
    data = raw_frame(TEXT, "ok €".encode())
    parser = frames.FrameParser()
    assert parser.feed(data[:-2]) == []  # ends inside the euro sign: fine, more may come
    assert parser.feed(data[-2:]) == ["ok €"]


# The buffer: BufferedProtocol reads, growth and shrinking


def test_reads_into_the_parsers_own_buffer(frames):
    parser = frames.FrameParser()
    data = b"".join(raw_frame(BINARY, bytes([i]) * i * 100) for i in range(40))
    events, offset = [], 0
    while offset < len(data):
        view = parser.get_buffer(-1)
        size = min(len(view), 777, len(data) - offset)
        view[:size] = data[offset : offset + size]
        del view
        events += parser.buffer_updated(size)
        offset += size
    assert events == [bytes([i]) * i * 100 for i in range(40)]


def test_get_buffer_grows_with_the_bytes_of_a_big_frame_not_with_its_header(frames):
    parser = frames.FrameParser()
    payload = os.urandom(3_000_000)
    data = raw_frame(BINARY, payload)
    assert parser.feed(data[:1000]) == []
    offers, offset, events = [], 1000, []
    while offset < len(data):
        view = parser.get_buffer(-1)
        offers.append(len(view))
        size = min(len(view), len(data) - offset)
        view[:size] = data[offset : offset + size]
        del view
        events += parser.buffer_updated(size)
        offset += size
    assert events == [payload]
    # Offers follow what arrived (they double as the buffer fills) instead of jumping to 3 MB.
    assert offers[0] < 1024 * 1024 and len(offers) > 3


def test_a_header_announcing_a_huge_frame_does_not_reserve_it(frames):
    parser = frames.FrameParser(max_message_size=None)
    assert parser.feed(raw_frame(BINARY, b"", length=1 << 62)) == []
    assert len(parser.get_buffer(-1)) <= 1024 * 1024


def test_buffer_updated_past_the_buffer_is_refused(frames):
    parser = frames.FrameParser()
    size = len(parser.get_buffer(-1))
    with pytest.raises(ValueError):
        parser.buffer_updated(size + 1)


def test_buffer_returns_to_its_small_size_after_a_big_message(frames):
    parser = frames.FrameParser()
    small = len(parser.get_buffer(-1))
    parser.feed(raw_frame(BINARY, b"x" * 3_000_000))
    assert parser.buffered == 0
    # While large messages keep coming the buffer stays large: regrowing it for each costs more.
    assert len(parser.get_buffer(-1)) > 1024 * 1024
    assert parser.feed(raw_frame(TEXT, b"hi")) == ["hi"]
    assert len(parser.get_buffer(-1)) <= small


# The writer


def test_client_writer_masks_with_fresh_keys_and_a_server_reads_it(frames):
    writer = frames.FrameWriter(client=True)
    first, second = writer.text("same"), writer.text("same")
    assert first[1] & 0x80 and first[2:6] != second[2:6]
    parser = frames.FrameParser()
    assert parser.feed(first + second) == ["same", "same"]


@pytest.mark.parametrize("client", [True, False])
def test_writer_round_trips_through_the_parser(frames, client):
    writer = frames.FrameWriter(client=client, fragment_size=1000)
    parser = frames.FrameParser(client=not client)
    text = "héllo wörld ✓ " * 500
    blob = os.urandom(70_000)
    data = writer.text(text) + writer.binary(blob) + writer.ping(b"p") + writer.pong() + writer.close(4001, "Invalid token")
    assert parser.feed(data) == [text, blob, Pong(b""), Close(4001, "Invalid token")]
    pongs = parser.take_pongs()
    assert (unmask_frames(pongs) if not client else pongs) == pong_frame(b"p")


def test_fragmentation_splits_at_the_configured_size(frames):
    writer = frames.FrameWriter(fragment_size=4)
    data = writer.binary(b"0123456789")
    assert data == raw_frame(BINARY, b"0123", fin=False, key=None) + raw_frame(CONT, b"4567", fin=False, key=None) + raw_frame(CONT, b"89", key=None)


def test_writer_accepts_any_bytes_like(frames):
    writer = frames.FrameWriter()
    expected = writer.binary(b"abc")
    assert writer.binary(bytearray(b"abc")) == expected
    assert writer.binary(memoryview(b"xabcx")[1:4]) == expected


def test_close_without_code(frames):
    assert frames.FrameWriter().close(None) == b"\x88\x00"


@pytest.mark.parametrize(
    "call",
    [
        lambda w: w.ping(b"x" * 126),
        lambda w: w.pong(b"x" * 126),
        lambda w: w.close(1005),
        lambda w: w.close(1006),
        lambda w: w.close(999),
        lambda w: w.close(5000),
        lambda w: w.close(1000, "x" * 124),
        lambda w: w.close(None, "reason without code"),
        lambda w: w.text("\ud800"),
    ],
)
def test_writer_refuses_what_may_not_be_sent(frames, call):
    with pytest.raises(ValueError):
        call(frames.FrameWriter())


def test_fragment_size_must_be_positive(frames):
    with pytest.raises(ValueError):
        frames.FrameWriter(fragment_size=0)


def test_nothing_after_a_close_frame_is_read(frames):
    data = raw_frame(TEXT, b"before") + raw_frame(CLOSE, b"\x03\xe8") + raw_frame(TEXT, b"after") + raw_frame(0x3, b"garbage")
    assert server_events(frames, data) == (["before", Close(1000, "")], None)
    parser = frames.FrameParser()
    parser.feed(raw_frame(CLOSE, b""))
    assert parser.feed(raw_frame(TEXT, b"later")) == []


def test_reads_that_fill_the_buffer_make_the_next_offer_larger(frames):
    parser = frames.FrameParser(client=True)
    empty_frame = raw_frame(BINARY, b"", key=None)
    offers = []
    for _ in range(10):
        view = parser.get_buffer(-1)
        offers.append(len(view))
        count = len(view) // 2
        view[: 2 * count] = empty_frame * count
        del view
        assert parser.buffer_updated(2 * count) == [b""] * count
    assert offers[0] < offers[-1] and 256 * 1024 <= offers[-1] < 1024 * 1024
    view = parser.get_buffer(-1)
    view[:2] = empty_frame
    del view
    parser.buffer_updated(2)  # a small read does not shrink the offer again
    assert len(parser.get_buffer(-1)) >= 256 * 1024 - 2


def test_the_parser_counts_the_control_frames_it_parsed(frames):
    parser = frames.FrameParser()
    parser.feed(raw_frame(TEXT, b"a") + raw_frame(PING, b"") + raw_frame(BINARY, b"b") + raw_frame(PONG, b""))
    assert parser.control_frames == 2
    parser.feed(raw_frame(TEXT, b"only data"))
    assert parser.control_frames == 0


def test_trim_gives_back_a_grown_buffer_only_when_nothing_is_buffered(frames):
    parser = frames.FrameParser()
    small = len(parser.get_buffer(-1))
    parser.feed(raw_frame(BINARY, b"x" * 200_000))
    partial = raw_frame(BINARY, b"y" * 10)[:5]
    parser.feed(partial)
    parser.trim()  # a frame is half here: nothing may be dropped
    assert parser.buffered == len(partial)
    assert parser.feed(raw_frame(BINARY, b"y" * 10)[5:]) == [b"y" * 10]
    parser.trim()
    assert len(parser.get_buffer(-1)) <= small
