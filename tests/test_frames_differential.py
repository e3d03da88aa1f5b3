"""Differential test: random and mutated frame streams give both implementations the same outcome.

Same events, or the same error class, close code and reason, after the same events, and the same
pongs (byte for byte from a server; from a client the same once unmasked, each with a fresh key),
however the stream is cut and whatever bytes-like type carries it. Hypothesis shrinks any
disagreement to a minimal stream.
"""

from __future__ import annotations

from array import array

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bolt._deflate import Inflater
from tests.framing import raw_frame
from tests.test_frames_pongs import parse_with_pongs

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
PAYLOAD = st.one_of(
    st.text(max_size=40).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.binary(max_size=40),
    st.binary(min_size=126, max_size=300),
    st.sampled_from([b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", "€".encode()[:2], b"\x03\xe8", b"\x0f\xa1ok"]),
)


@st.composite
def message(draw):
    """A data message in one or more fragments, with control frames between them: (opcode, payload, fin, rsv)."""
    opcode = draw(st.sampled_from([TEXT, BINARY]))
    if opcode == TEXT and draw(st.integers(0, 7)):
        # Valid text cut at random bytes, so sequences split across fragments.
        encoded = draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
        points = sorted(draw(st.lists(st.integers(0, len(encoded)), max_size=3)))
        bounds = [0, *points, len(encoded)]
        pieces = [encoded[a:b] for a, b in zip(bounds, bounds[1:])]
    else:
        pieces = draw(st.lists(PAYLOAD, min_size=1, max_size=4))
    rsv = draw(st.sampled_from([0, 0, 0, 0x40]))
    frames = []
    for index, piece in enumerate(pieces):
        frames.append((opcode if index == 0 else CONT, piece, index == len(pieces) - 1, rsv if index == 0 else 0))
        if draw(st.integers(0, 3)) == 0:
            frames.append((draw(st.sampled_from([PING, PONG])), draw(st.binary(max_size=10)), True, 0))
    return frames


WILD_FRAME = st.tuples(
    st.sampled_from([CONT, TEXT, BINARY, CLOSE, PING, PONG, 0x3, 0xB]),
    PAYLOAD,
    st.booleans(),
    st.sampled_from([0, 0x40, 0x20, 0x10]),
)
CLOSE_FRAME = st.tuples(st.just(CLOSE), PAYLOAD, st.just(True), st.just(0))


@st.composite
def frame_list(draw):
    """Mostly well-formed messages, now and then a frame that breaks a rule or a close frame."""
    frames = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.integers(0, 9))
        if kind < 7:
            frames += draw(message())
        elif kind < 9:
            frames.append(draw(WILD_FRAME))
        else:
            frames.append(draw(CLOSE_FRAME))
    return frames


@st.composite
def stream(draw):
    masked = draw(st.booleans())
    data = bytearray()
    for opcode, payload, fin, rsv in draw(frame_list()):
        if draw(st.integers(0, 99)) == 0:
            key = None if masked else b"\x01\x02\x03\x04"  # the wrong masking for the role
        else:
            key = draw(st.binary(min_size=4, max_size=4)) if masked else None
        data += raw_frame(opcode, payload, fin=fin, rsv=rsv, key=key)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    points = sorted(draw(st.lists(st.integers(0, len(data)), max_size=6)))
    bounds = [0, *points, len(data)]
    # feed() takes any bytes-like object; the twins must read the same bytes from each kind.
    kind = draw(st.sampled_from([bytes, bytearray, memoryview, lambda piece: array("B", piece)]))
    chunks = [kind(bytes(data[a:b])) for a, b in zip(bounds, bounds[1:])]
    return masked, chunks


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(stream(), st.sampled_from([None, 64, 200]), st.booleans(), st.booleans())
def test_both_implementations_agree(both_codecs, case, limit, with_extension, take_each_time):
    compiled, pure = both_codecs
    masked, chunks = case
    options = {"client": not masked, "max_message_size": limit}
    parsers: list = []

    def make_parser(codec):
        # Each parser inflates with its own context (RFC 7692), as a connection does.
        parsers.append(codec.FrameParser(inflater=Inflater() if with_extension else None, **options))
        return parsers[-1]

    results = [
        parse_with_pongs(lambda: make_parser(codec), chunks, client=not masked, take_each_time=take_each_time)
        for codec in (compiled, pure)
    ]
    assert results[0] == results[1]
    # The message counters agree too, and count exactly the messages returned.
    events = results[0][0]
    texts = [event for event in events if type(event) is str]
    binaries = [event for event in events if type(event) is bytes]
    expected = (len(texts), sum(len(t.encode()) for t in texts), len(binaries), sum(map(len, binaries)))
    for parser in parsers:
        counted = (parser.text_received, parser.text_bytes_received, parser.binary_received, parser.binary_bytes_received)
        assert counted == expected
