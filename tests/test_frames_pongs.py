"""Every ping gets its pong, written by the parser (RFC 6455 §5.5.2, §5.5.3), in both twins.

The parser returns no event for a ping: it appends the pong frame to its pending replies, and
``take_pongs()`` hands them over. A server's pongs are unmasked, a client's masked with a fresh key
each (§5.3). The helpers here (``pong_frame``, ``unmask_frames``, ``parse_with_pongs``) are shared
by the other frame tests.
"""

from __future__ import annotations

import pytest

from bolt.events import Close, Pong
from bolt.exceptions import InvalidState, ProtocolError
from tests.conftest import load_module
from tests.framing import cuts, raw_frame, xor_mask

TEXT, BINARY, CLOSE, PING, PONG, CONT = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
PAYLOADS = [b"", b"0", b"ping 2", bytes(range(125)), b"\x00\xff" * 10, "é€𝄞".encode(), b"6", b"seven", b"\x89\x00", b"9" * 124]


def pong_frame(payload: bytes) -> bytes:
    """The unmasked pong a server sends for a ping carrying ``payload``."""
    return raw_frame(PONG, payload, key=None)


def unmask_frames(data: bytes) -> bytes:
    """``data``, a run of masked frames, with every mask taken off (mask bit cleared, key dropped),
    so a client's frames compare with a server's. Fails on an unmasked frame or reused keys."""
    out = bytearray()
    keys = []
    pos = 0
    while pos < len(data):
        first, second = data[pos], data[pos + 1]
        assert second & 0x80, f"frame at {pos} is not masked"
        length = second & 0x7F
        header = 2
        if length == 126:
            length = int.from_bytes(data[pos + 2 : pos + 4], "big")
            header = 4
        elif length == 127:
            length = int.from_bytes(data[pos + 2 : pos + 10], "big")
            header = 10
        key = data[pos + header : pos + header + 4]
        keys.append(key)
        payload = data[pos + header + 4 : pos + header + 4 + length]
        assert len(payload) == length, "frame cut short"
        out += bytes([first, second & 0x7F]) + data[pos + 2 : pos + header] + xor_mask(payload, key)
        pos += header + 4 + length
    # Fresh keys: 32 random bits each. Among 10,000 frames two happen to be equal one time in a
    # hundred (the birthday bound), so a few repeats are chance; a reused key repeats far more.
    assert len(set(keys)) >= 0.99 * len(keys), "masking keys are reused"
    return bytes(out)


def parse_with_pongs(make_parser, chunks, *, client: bool, take_each_time: bool = False):
    """Feed ``chunks``; return (events, error, pongs), with a client's pongs unmasked. Pongs are
    taken once at the end (after any error), or after every chunk too with ``take_each_time``."""
    parser = make_parser()
    events: list = []
    error = None
    pongs = b""
    for chunk in chunks:
        try:
            events += parser.feed(chunk)
        except ProtocolError as exc:
            events += exc.events
            error = (type(exc), exc.close_code, exc.reason)
            break
        if take_each_time:
            pongs += parser.take_pongs()
    pongs += parser.take_pongs()
    assert parser.take_pongs() == b""
    return events, error, unmask_frames(pongs) if client else pongs


def every_way(codec, data: bytes, *, client: bool, **options):
    """``parse_with_pongs`` whole, byte by byte and cut at random; every way must agree."""
    results = [
        parse_with_pongs(lambda: codec.FrameParser(client=client, **options), way, client=client, take_each_time=bool(n % 2))
        for n, way in enumerate(cuts(data))
    ]
    for result in results[1:]:
        assert result == results[0]
    return results[0]


def pings(payloads, *, client: bool) -> bytes:
    """Ping frames as the peer of a parser in this role sends them: a server's unmasked."""
    key = None if client else b"\x01\x02\x03\x04"
    return b"".join(raw_frame(PING, payload, key=key) for payload in payloads)


@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
def test_ten_pings_in_one_read_get_ten_pongs_in_order(codec, client):
    events, error, pongs = every_way(codec, pings(PAYLOADS, client=client), client=client)
    assert events == [] and error is None
    assert pongs == b"".join(pong_frame(payload) for payload in PAYLOADS)


def test_the_rfc_ping_is_answered_with_the_rfc_pong(codec):
    # §5.7: "Unmasked Ping request and masked Ping response" (a client answering a server's ping).
    parser = codec.FrameParser(client=True)
    assert parser.feed(bytes.fromhex("890548656c6c6f")) == []
    pong = parser.take_pongs()
    key = pong[2:6]
    assert pong == bytes.fromhex("8a85") + key + xor_mask(b"Hello", key)
    assert unmask_frames(pong) == bytes.fromhex("8a0548656c6c6f")
    server = codec.FrameParser()
    assert server.feed(bytes.fromhex("898537fa213d7f9f4d5158")) == []
    assert server.take_pongs() == bytes.fromhex("8a0548656c6c6f")


def test_a_client_masks_each_pong_with_a_fresh_key(codec):
    parser = codec.FrameParser(client=True)
    parser.feed(pings([b"same"] * 200, client=True))
    pongs = parser.take_pongs()
    frames = [pongs[i : i + 10] for i in range(0, len(pongs), 10)]
    assert len(frames) == 200
    for frame in frames:
        assert frame[:2] == b"\x8a\x84"  # FIN, pong, masked, 4 bytes
        assert xor_mask(frame[6:], frame[2:6]) == b"same"
    assert len({frame[2:6] for frame in frames}) == 200
    assert unmask_frames(pongs) == pong_frame(b"same") * 200


def test_a_server_does_not_mask_its_pongs(codec):
    parser = codec.FrameParser()
    parser.feed(pings([b"abc"], client=False))
    assert parser.take_pongs() == b"\x8a\x03abc"


def test_take_pongs_hands_over_what_accumulated_and_clears_it(codec):
    parser = codec.FrameParser()
    assert parser.take_pongs() == b""
    parser.feed(pings([b"1"], client=False))
    parser.feed(raw_frame(TEXT, b"between") + pings([b"2", b"3"], client=False))
    assert parser.take_pongs() == pong_frame(b"1") + pong_frame(b"2") + pong_frame(b"3")
    assert parser.take_pongs() == b""
    parser.feed(pings([b"4"], client=False))
    assert parser.take_pongs() == pong_frame(b"4")


@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
def test_pongs_of_pings_before_a_violation_survive_the_error(codec, client):
    key = None if client else b"\x01\x02\x03\x04"
    data = (
        pings([b"a", b"b"], client=client)
        + raw_frame(TEXT, b"ok", key=key)
        + pings([b"c"], client=client)
        + raw_frame(0x3, b"bad", key=key)
        + pings([b"never"], client=client)
    )
    events, error, pongs = every_way(codec, data, client=client)
    assert events == ["ok"]
    assert error == (ProtocolError, 1002, "reserved opcode 0x3")
    assert pongs == pong_frame(b"a") + pong_frame(b"b") + pong_frame(b"c")


def test_take_pongs_still_works_after_the_parser_failed(codec):
    parser = codec.FrameParser()
    with pytest.raises(ProtocolError):
        parser.feed(pings([b"x"], client=False) + raw_frame(TEXT, b"\xff"))
    with pytest.raises(InvalidState):
        parser.feed(pings([b"y"], client=False))
    assert parser.take_pongs() == pong_frame(b"x")
    assert parser.pings_received == 1


def test_pings_after_a_close_frame_are_not_answered(codec):
    data = pings([b"before"], client=False) + raw_frame(CLOSE, b"\x03\xe8") + pings([b"after"], client=False)
    events, error, pongs = every_way(codec, data, client=False)
    assert events == [Close(1000, "")] and error is None
    assert pongs == pong_frame(b"before")


def test_pings_between_fragments_are_answered_and_make_no_event(codec):
    data = (
        raw_frame(TEXT, "κό".encode(), fin=False)
        + raw_frame(PING, b"p1")
        + raw_frame(CONT, "σμε".encode())
        + raw_frame(PONG, b"p2")
        + raw_frame(PING, b"p3")
    )
    events, error, pongs = every_way(codec, data, client=False)
    assert events == ["κόσμε", Pong(b"p2")] and error is None
    assert pongs == pong_frame(b"p1") + pong_frame(b"p3")


def test_pongs_come_from_the_buffered_protocol_path_too(codec):
    parser = codec.FrameParser()
    data = pings(PAYLOADS, client=False)
    offset = 0
    while offset < len(data):
        view = parser.get_buffer(-1)
        size = min(len(view), 7, len(data) - offset)
        view[:size] = data[offset : offset + size]
        del view
        assert parser.buffer_updated(size) == []
        offset += size
    assert parser.take_pongs() == b"".join(pong_frame(payload) for payload in PAYLOADS)


def test_a_ping_flood_is_answered_ping_for_ping(codec):
    parser = codec.FrameParser(client=True)
    payloads = [i.to_bytes(2, "big") for i in range(5000)]
    assert parser.feed(pings(payloads, client=True)) == []
    assert parser.pings_received == 5000
    assert unmask_frames(parser.take_pongs()) == b"".join(pong_frame(payload) for payload in payloads)


def test_pings_are_counted(codec):
    parser = codec.FrameParser()
    parser.feed(pings([b"1", b"2"], client=False) + raw_frame(TEXT, b"a") + raw_frame(PONG, b""))
    assert parser.control_frames == 3  # the caller still learns that this read needs a reply
    assert parser.pings_received == 2
    parser.feed(raw_frame(TEXT, b"only data"))
    assert parser.control_frames == 0
    parser.feed(pings([b"3"], client=False))
    assert parser.control_frames == 1
    assert parser.pings_received == 3


def test_pings_received_is_read_only_in_the_compiled_parser():
    with pytest.raises(AttributeError):
        load_module("compiled", "frames").FrameParser().pings_received = 5
