"""Hypothesis strategies that make fuzz inputs in the byte formats of ``targets.py``: mostly
well-formed frame streams and requests with a few bytes broken, and raw bytes."""

from __future__ import annotations

import struct

from hypothesis import strategies as st

from tests.framing import raw_frame

OPCODES = [0x0, 0x1, 0x2, 0x8, 0x9, 0xA, 0x3, 0xB, 0xF]
PAYLOADS = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=30).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.binary(min_size=126, max_size=400),
    st.sampled_from([b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xe2\x82", b"\x03\xe8", b"\x03\xe8ok", b"\x0f\xa1", b"\x03"]),
)


def encode_frame(opcode: int, payload: bytes, fin: bool, rsv: int, key: bytes | None, length_bytes: int | None) -> bytes:
    if length_bytes == 0 and len(payload) > 125:
        length_bytes = 2  # a 7-bit length cannot say more than 125
    return raw_frame(opcode, payload, fin=fin, rsv=rsv, key=key, length_bytes=length_bytes)


VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999]


@st.composite
def _options(draw) -> int:
    """Mostly no frame limit, no zero message limit: valid streams get far enough to matter."""
    message_limit = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7] + [0, 5, 6, 7] * 3))  # index into MESSAGE_LIMITS
    frame_limit = draw(st.sampled_from([0, 0, 0, 0, 0, 1, 2, 3]))
    flags = draw(st.integers(0, 7)) << 5  # client, decompress, buffer-path bit (unused)
    return message_limit | frame_limit << 3 | flags


@st.composite
def _message(draw, key_for) -> list[bytes]:
    """One valid data message in fragments, control frames between them, for the role."""
    opcode = draw(st.sampled_from([0x1, 0x2]))
    if opcode == 0x1:
        data = draw(st.text(max_size=300)).encode("utf-8", "surrogatepass")
    else:
        data = draw(st.binary(max_size=300))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=4)))
    bounds = [0, *cuts, len(data)]
    pieces = [data[a:b] for a, b in zip(bounds, bounds[1:])]
    rsv = 0x40 if draw(st.integers(0, 9)) == 0 else 0
    frames = []
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        frames.append(encode_frame(opcode if index == 0 else 0x0, piece, last, rsv if index == 0 else 0, key_for(), None))
        if draw(st.integers(0, 3)) == 0:
            frames.append(encode_frame(draw(st.sampled_from([0x9, 0xA])), draw(st.binary(max_size=125)), True, 0, key_for(), None))
    return frames


@st.composite
def frame_streams(draw) -> bytes:
    """[options][cut seed][frames]: mostly valid messages for the role, now and then a frame that
    breaks a rule, a close frame, flipped bytes or a cut-off end."""
    options = draw(_options())
    client = bool(options & 0x20)

    def key_for():
        masked = (not client) if draw(st.integers(0, 40)) else client
        return draw(st.binary(min_size=4, max_size=4)) if masked else None

    stream = bytearray()
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 9))
        if kind < 7:
            for piece in draw(_message(key_for)):
                stream += piece
        elif kind < 9:
            rsv = draw(st.sampled_from([0, 0x40, 0x20, 0x10]))
            length_bytes = draw(st.sampled_from([None, 2, 8]))
            stream += encode_frame(draw(st.sampled_from(OPCODES)), draw(PAYLOADS), draw(st.booleans()), rsv, key_for(), length_bytes)
        else:
            code = draw(st.one_of(st.sampled_from(VALID_CODES), st.integers(0, 65535)))
            reason = draw(st.sampled_from([b"", b"bye", b"\xff", "κόσμε".encode()]))
            payload = draw(st.sampled_from([b"", struct.pack("!H", code) + reason, b"\x03"]))
            stream += encode_frame(0x8, payload, True, 0, key_for(), None)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        if stream:
            stream[draw(st.integers(0, len(stream) - 1))] = draw(st.integers(0, 255))
    if draw(st.integers(0, 5)) == 0 and stream:
        stream = stream[: draw(st.integers(0, len(stream)))]
    return bytes([options, draw(st.integers(0, 255))]) + bytes(stream)


FIELDS = [
    ("Host", "127.0.0.1:8000"),
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("Sec-WebSocket-Version", "13"),
]
TARGETS = ["/echo", "/", "/a%20b?x=1&y=%ff", "*", "http://h:1/p?q", "//x", "/%ff", "/caf%C3%A9", "http://[::1]:80/", "/#frag"]


PATH_TEXT = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20)


@st.composite
def requests(draw) -> bytes:
    """[limits and cut byte][a request, mostly well-formed, then maybe frames behind it]."""
    method = draw(st.sampled_from(["GET"] * 8 + ["POST", "PRI", "G\x00T"]))
    kind = draw(st.integers(0, 9))
    if kind < 5:
        target = draw(st.sampled_from(TARGETS))
    elif kind < 9:
        target = "/" + draw(PATH_TEXT)
    else:
        target = draw(st.text(min_size=1, max_size=10))
    version = draw(st.sampled_from(["HTTP/1.1"] * 12 + ["HTTP/1.0", "HTTP/2.0", "HTTP/1.1 "]))
    fields = list(FIELDS)
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(["X-A", "Content-Length", "Transfer-Encoding", "Host", "Sec-WebSocket-Key", "Upgrade", "Bad Name"]))
        value = draw(st.one_of(PATH_TEXT, st.text(max_size=12)))
        fields.insert(draw(st.integers(0, len(fields))), (name, value))
    if draw(st.integers(0, 4)) == 0 and fields:
        del fields[draw(st.integers(0, len(fields) - 1))]
    newline = draw(st.sampled_from(["\r\n"] * 10 + ["\n", "\r"]))
    text = f"{method} {target} {version}{newline}" + "".join(f"{n}: {v}{newline}" for n, v in fields) + newline
    data = bytearray(text.encode("utf-8", "surrogatepass"))
    for _ in range(draw(st.sampled_from([0, 0, 0, 0, 1, 2]))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    data += draw(st.sampled_from([b"", b"\x81\x85\x01\x02\x03\x04ifmmp", b"GET / HTTP/1.1\r\n\r\n"]))
    return bytes([draw(st.integers(0, 255))]) + bytes(data)
