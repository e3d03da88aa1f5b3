"""The twins agree on every input, not just bytes: buffer formats, shapes, str subclasses, hooks'
return values and size limits up to 2**63-1.

Each call runs on the compiled and the pure twin and must give the same frames (byte for byte from a
server; from a client the same once unmasked, each frame with its own key) or the same exception,
type and message. Successful output is also checked against frames built here by hand, so that two
twins wrong the same way do not pass: a payload's length is its size in bytes (an ``array('H')`` of
3 items is 6 bytes), whatever its format or shape. Both twins take their arguments through
``bolt._coerce``.
"""

from __future__ import annotations

import enum
import zlib
from array import array

import pytest

from bolt.close_codes import CloseCode
from bolt.events import Close
from bolt._deflate import Deflater
from bolt.exceptions import MessageTooBig
from tests.conftest import load_module
from tests.framing import raw_frame
from tests.test_frames_pongs import pong_frame, unmask_frames

try:
    import numpy
except ImportError:  # pragma: no cover - numpy is in the test extras
    numpy = None

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
TOP = 2**63 - 1


@pytest.fixture
def twins():
    return load_module("compiled", "frames"), load_module("pure", "frames")


def attempt(call):
    """What a call gives: ("ok", its result) or ("error", exception type, message)."""
    try:
        return "ok", call()
    except Exception as exc:
        return "error", type(exc), str(exc)


def agree(twins, call, *, client=False):
    """``call(frames_module)`` on both twins: the same outcome, a client's frames compared unmasked."""
    outcomes = [attempt(lambda: call(module)) for module in twins]
    if client:
        outcomes = [("ok", unmask_frames(outcome[1])) if outcome[0] == "ok" else outcome for outcome in outcomes]
    assert outcomes[0] == outcomes[1]
    return outcomes[0]


def construct(cls, **options) -> None:
    cls(**options)


def blob(size: int) -> bytes:
    return bytes(i * 7 % 251 for i in range(size))


class Bytes(bytes):
    pass


class Text(str):
    def __str__(self) -> str:
        return "not the characters"


class Color(str, enum.Enum):
    RED = "red é"


if hasattr(enum, "StrEnum"):
    Mood = enum.StrEnum("Mood", {"CALM": "calm ✓"})
    STR_ENUM = [Mood.CALM]
else:  # Python 3.10
    STR_ENUM = []


# Bytes-like payloads: (name, object). Each is sent as its bytes (memoryview(obj).tobytes()).
PAYLOADS = [
    ("bytes 0", b""),
    ("bytes 1", blob(1)),
    ("bytes 125", blob(125)),
    ("bytes 126", blob(126)),
    ("bytes 65535", blob(65535)),
    ("bytes 65536", blob(65536)),
    ("bytes subclass", Bytes(blob(30))),
    ("bytearray 0", bytearray()),
    ("bytearray 126", bytearray(blob(126))),
    ("memoryview", memoryview(blob(40))),
    ("memoryview slice", memoryview(blob(300))[3:-5]),
    ("memoryview of bytearray", memoryview(bytearray(blob(20)))),
    ("memoryview 2-D", memoryview(blob(24)).cast("B", (4, 6))),
    ("memoryview 2-D uint16", memoryview(blob(24)).cast("H", (3, 4))),
    ("memoryview 'c'", memoryview(blob(10)).cast("c")),
    ("array H", array("H", range(70))),
    ("array H 0", array("H")),
    ("array d", array("d", [1.5, -2.25, 1e300] * 7)),
    ("array b", array("b", range(-60, 60))),
    ("array I big", array("I", range(16400))),
]
if numpy is not None:
    PAYLOADS += [
        ("numpy uint8", numpy.arange(200, dtype=numpy.uint8)),
        ("numpy uint16", numpy.arange(63, dtype=numpy.uint16)),
        ("numpy float64 2-D", numpy.linspace(0, 1, 15).reshape(3, 5)),
        ("numpy 0-D", numpy.array(5.0)),
        ("numpy empty 2-D", numpy.zeros((0, 3))),
        ("numpy C-contiguous slice", numpy.arange(40, dtype=numpy.int32)[5:25]),
    ]

# Refused by both twins with the same TypeError.
NOT_BYTES_LIKE = [
    ("str", "text is not bytes"),
    ("int", 5),
    ("None", None),
    ("list", [1, 2, 3]),
    ("memoryview step 2", memoryview(blob(10))[::2]),
    ("memoryview reversed", memoryview(blob(10))[::-1]),
]
if numpy is not None:
    NOT_BYTES_LIKE += [
        ("numpy strided", numpy.arange(20, dtype=numpy.uint8)[::2]),
        ("numpy Fortran order", numpy.zeros((3, 4), dtype=numpy.uint16).T),
    ]
ALL_PAYLOADS = PAYLOADS + NOT_BYTES_LIKE
REFUSED = {name for name, _ in NOT_BYTES_LIKE}
FRAGMENT_SIZES = [None, 7, 125, 126, 65535, TOP]


def content(obj) -> bytes:
    return memoryview(obj).tobytes()


def message_frames(opcode: int, payload: bytes, fragment_size: int | None, rsv: int = 0) -> bytes:
    """A message as a server sends it, built by hand: split into fragments of ``fragment_size``."""
    if fragment_size is None or len(payload) <= fragment_size:
        return raw_frame(opcode, payload, rsv=rsv, key=None)
    pieces = [payload[i : i + fragment_size] for i in range(0, len(payload), fragment_size)]
    return b"".join(
        raw_frame(opcode if i == 0 else CONT, piece, fin=i == len(pieces) - 1, rsv=rsv if i == 0 else 0, key=None)
        for i, piece in enumerate(pieces)
    )


# The writer


@pytest.mark.parametrize("fragment_size", FRAGMENT_SIZES)
@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
def test_binary_of_every_payload_kind(twins, client, fragment_size):
    for name, payload in ALL_PAYLOADS:
        kind, *rest = agree(twins, lambda m: m.FrameWriter(client=client, fragment_size=fragment_size).binary(payload), client=client)
        if name in REFUSED:
            assert kind == "error" and rest[0] is TypeError and "binary() data" in rest[1], name
        else:
            assert rest == [message_frames(BINARY, content(payload), fragment_size)], name


@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
@pytest.mark.parametrize("method, opcode", [("ping", PING), ("pong", PONG)])
def test_control_payloads_of_every_kind_count_bytes(twins, client, method, opcode):
    for name, payload in ALL_PAYLOADS:
        kind, *rest = agree(twins, lambda m: getattr(m.FrameWriter(client=client), method)(payload), client=client)
        if name in REFUSED:
            assert kind == "error" and rest[0] is TypeError and f"{method}() data" in rest[1], name
        elif len(content(payload)) > 125:
            # §5.5: the limit is 125 bytes, not items (63 uint16 are 126 bytes).
            assert kind == "error" and rest[0] is ValueError, name
            assert rest[1] == f"control frame payload is {len(content(payload))} bytes; at most 125 (§5.5)"
        else:
            assert rest == [raw_frame(opcode, content(payload), key=None)], name


TEXTS = [
    ("empty", ""),
    ("ascii", "hello"),
    ("ascii 126", "a" * 126),
    ("ascii 65536", "b" * 65536),
    ("non-ascii", "héllo wörld ✓ 𝄞" * 10),
    ("non-ascii 65535", "é" * 32767 + "a"),
    ("str subclass with its own __str__", Text("the characters é")),
    ("(str, Enum) member", Color.RED),
    *(("StrEnum member", member) for member in STR_ENUM),
]
NOT_TEXT = [("bytes", b"abc"), ("None", None), ("int", 5), ("lone surrogate", "\ud800")]
REFUSED_TEXT = {name for name, _ in NOT_TEXT}


@pytest.mark.parametrize("fragment_size", FRAGMENT_SIZES)
@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
def test_text_of_str_and_its_subclasses(twins, client, fragment_size):
    for name, text in TEXTS + NOT_TEXT:
        kind, *rest = agree(twins, lambda m: m.FrameWriter(client=client, fragment_size=fragment_size).text(text), client=client)
        if name in REFUSED_TEXT:
            assert kind == "error", name
        else:
            # A subclass is sent as its characters, never as what an overriding __str__ says.
            assert rest == [message_frames(TEXT, str.__str__(text).encode(), fragment_size)], name


def test_text_refuses_what_is_not_str_with_one_message(twins):
    assert agree(twins, lambda m: m.FrameWriter().text(b"abc")) == ("error", TypeError, "text() data must be str, not bytes")
    assert agree(twins, lambda m: m.FrameWriter().text("\ud800"))[1] is UnicodeEncodeError


CODES = [1000, 4999, CloseCode.GOING_AWAY, None, True, 1000.0, "1000", 1005, 999, 5000, 2**70, -1]
REASONS = ["", "bye", "é" * 61 + "a", "x" * 123, "x" * 124, "é" * 62, Text("why"), Color.RED, *STR_ENUM, b"bytes", None, "\udc80"]


@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
def test_close_of_every_code_and_reason(twins, client):
    for code in CODES:
        for reason in REASONS:
            kind, *rest = agree(twins, lambda m: m.FrameWriter(client=client).close(code, reason), client=client)
            if kind == "ok":
                payload = b"" if code is None else int(code).to_bytes(2, "big") + str.__str__(reason).encode()
                assert rest == [raw_frame(CLOSE, payload, key=None)], (code, reason)


def test_close_refusals(twins):
    def close(code, reason=""):
        return agree(twins, lambda m: m.FrameWriter().close(code, reason))

    assert close(1000.0) == ("error", TypeError, "close code must be an int, not float")
    assert close(1005) == ("error", ValueError, "close code 1005 may not be sent (RFC 6455 §7.4)")
    assert close(None, "why") == ("error", ValueError, "a close reason needs a close code")
    assert close(1000, b"why") == ("error", TypeError, "close reason must be str, not bytes")
    assert close(1000, "é" * 62) == ("error", ValueError, "close reason is 124 bytes; at most 123 fit (§5.5)")
    assert close(CloseCode.NORMAL, Color.RED) == ("ok", raw_frame(CLOSE, b"\x03\xe8red \xc3\xa9", key=None))


SENDS = [
    ("text", TEXT, "compress me é".encode(), lambda writer: writer.text("compress me é")),
    ("long text", TEXT, ("compress me é" * 20).encode(), lambda writer: writer.text("compress me é" * 20)),
    ("array H", BINARY, content(array("H", range(9))), lambda writer: writer.binary(array("H", range(9)))),
    ("long array H", BINARY, content(array("H", [7] * 300)), lambda writer: writer.binary(array("H", [7] * 300))),
]
def independent_deflate(data: bytes) -> bytes:
    """RFC 7692 §7.2.1 done here with zlib alone, as bolt's Deflater is configured by default."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15, 8)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


@pytest.mark.parametrize("fragment_size", [None, 3, TOP])
@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
@pytest.mark.parametrize("send_name, opcode, original, send", SENDS, ids=[s[0] for s in SENDS])
def test_compressed_sends_agree(twins, send_name, opcode, original, send, client, fragment_size):
    """Each twin with its own Deflater compresses the message's bytes (counted in bytes, whatever
    the input's item size) to what zlib alone makes, RSV1 on the first frame only; where that is
    not smaller, the message goes out as it is."""
    kind, *rest = agree(
        twins, lambda m: send(m.FrameWriter(client=client, fragment_size=fragment_size, deflater=Deflater(min_size=0))), client=client
    )
    packed = independent_deflate(original)
    if len(packed) < len(original):
        assert rest == [message_frames(opcode, packed, fragment_size, rsv=0x40)]
    else:
        assert rest == [message_frames(opcode, original, fragment_size)]


@pytest.mark.parametrize("name, payload", PAYLOADS[:6] + PAYLOADS[-6:], ids=[p[0] for p in PAYLOADS[:6] + PAYLOADS[-6:]])
def test_encode_frame_of_every_kind(twins, name, payload):
    key = bytes.fromhex("37fa213d")
    assert agree(twins, lambda m: m.encode_frame(BINARY, payload)) == ("ok", raw_frame(BINARY, content(payload), key=None))
    for mask_key in (key, bytearray(key), memoryview(b"x" + key)[1:], array("B", key)):
        assert agree(twins, lambda m: m.encode_frame(BINARY, payload, mask_key=mask_key)) == ("ok", raw_frame(BINARY, content(payload), key=key))


@pytest.mark.parametrize(
    "args, error",
    [
        ((16, b""), ValueError),
        ((-1, b""), ValueError),
        ((2**70, b""), ValueError),
        ((1.0, b""), TypeError),
        ((BINARY, "str"), TypeError),
        ((BINARY, memoryview(b"abcd")[::2]), TypeError),
    ],
)
def test_encode_frame_refusals(twins, args, error):
    assert agree(twins, lambda m: m.encode_frame(*args))[1] is error


@pytest.mark.parametrize("mask_key, error", [("abcd", TypeError), (4, TypeError), (b"abc", ValueError), (b"abcde", ValueError)])
def test_encode_frame_refuses_a_mask_key_that_is_not_4_bytes(twins, mask_key, error):
    assert agree(twins, lambda m: m.encode_frame(BINARY, b"x", mask_key=mask_key))[1] is error


# Size limits: 63 bits (§5.2) on both twins


LIMITS_ACCEPTED = [None, 0, 1, 125, TOP, True, CloseCode.NORMAL]
LIMITS_REFUSED = [(-1, ValueError), (2**63, ValueError), (2**64, ValueError), (-(2**63), ValueError), (1.5, TypeError), ("10", TypeError)]


@pytest.mark.parametrize("option", ["max_message_size", "max_frame_size"])
def test_parser_limits_up_to_2_63_minus_1(twins, option):
    for value in LIMITS_ACCEPTED:
        assert agree(twins, lambda m: construct(m.FrameParser, **{option: value})) == ("ok", None), value
    for value, error in LIMITS_REFUSED:
        kind, kind_error, message = agree(twins, lambda m: construct(m.FrameParser, **{option: value}))
        assert kind_error is error and option in message, value


def test_fragment_size_from_1_to_2_63_minus_1(twins):
    for value in (None, 1, TOP):
        assert agree(twins, lambda m: m.FrameWriter(fragment_size=value).binary(b"abc")) == ("ok", message_frames(BINARY, b"abc", value))
    for value, error in [(0, ValueError), *LIMITS_REFUSED]:
        kind, kind_error, message = agree(twins, lambda m: construct(m.FrameWriter, fragment_size=value))
        assert kind_error is error and "fragment_size" in message, value


@pytest.mark.parametrize("limit", [None, TOP])
def test_a_frame_announcing_2_63_minus_1_bytes_is_buffered_not_refused(twins, limit):
    header = raw_frame(BINARY, b"", length=TOP, length_bytes=8)
    for module in twins:
        parser = module.FrameParser(max_message_size=limit, max_frame_size=limit)
        assert parser.feed(header + b"abc") == []
        view = parser.get_buffer(-1)  # the room still missing is near 2**63: no overflow
        assert 0 < len(view) <= 1 << 20
        view[:5] = b"12345"
        del view
        assert parser.buffer_updated(5) == []
        assert parser.buffered == len(header) + 8


def test_a_frame_one_byte_over_a_2_63_minus_2_limit_is_too_big(twins):
    header = raw_frame(BINARY, b"", length=TOP, length_bytes=8)
    for module in twins:
        with pytest.raises(MessageTooBig) as caught:
            module.FrameParser(max_message_size=TOP - 1).feed(header)
        assert caught.value.reason == f"message of {TOP} bytes or more is over the limit of {TOP - 1}"


# The parser: feed(), buffer_updated() and the decompress hook


def stream_bytes() -> bytes:
    data = raw_frame(TEXT, "κόσμε".encode()) + raw_frame(PING, b"p") + raw_frame(BINARY, blob(300)) + raw_frame(CLOSE, b"\x03\xe8")
    # Padded (after the close, so never read) to a whole number of 8-byte items in each half.
    return data + b"\x00" * (-len(data) % 16)


def feed_kinds(data: bytes):
    kinds = [
        ("bytes", data),
        ("bytearray", bytearray(data)),
        ("bytes subclass", Bytes(data)),
        ("memoryview", memoryview(data)),
        ("memoryview slice", memoryview(b"xx" + data + b"yy")[2:-2]),
        ("memoryview 2-D", memoryview(data).cast("B", (8, len(data) // 8))),
        ("array B", array("B", data)),
        ("array H", array("H", data)),
        ("array d", array("d", data)),
    ]
    if numpy is not None:
        kinds += [("numpy uint32", numpy.frombuffer(data, dtype=numpy.uint32)), ("numpy 2-D", numpy.frombuffer(data, dtype=numpy.uint8).reshape(8, -1))]
    return kinds


@pytest.mark.parametrize("pieces", [1, 2])
def test_feed_reads_the_bytes_of_every_kind(twins, pieces):
    data = stream_bytes()
    size = len(data) // pieces
    for kinds in zip(*(feed_kinds(data[i : i + size]) for i in range(0, len(data), size))):
        chunks = [chunk for _, chunk in kinds]

        def parse(module):
            parser = module.FrameParser()
            events = [event for chunk in chunks for event in parser.feed(chunk)]
            return events, parser.take_pongs()

        assert agree(twins, parse) == ("ok", (["κόσμε", blob(300), Close(1000, "")], pong_frame(b"p"))), kinds[0][0]


def test_feed_refuses_what_is_not_bytes_like_and_keeps_its_state(twins):
    data = raw_frame(TEXT, b"hello")
    for name, chunk in NOT_BYTES_LIKE:
        def parse(module):
            parser = module.FrameParser()
            parser.feed(data[:3])
            try:
                parser.feed(chunk)
            except TypeError as exc:
                # A refused argument is local misuse: the stream is intact and reading goes on.
                return str(exc), parser.feed(data[3:])
            raise AssertionError(f"{name} was accepted")

        kind, (message, events) = agree(twins, parse)
        assert "feed() data" in message and events == ["hello"], name


@pytest.mark.parametrize("nbytes, error", [(1.5, TypeError), ("3", TypeError), (-1, ValueError), (1 << 20, ValueError)])
def test_buffer_updated_refuses_a_bad_count_alike(twins, nbytes, error):
    def update(module):
        parser = module.FrameParser()
        parser.get_buffer(-1).release()
        parser.buffer_updated(nbytes)

    assert agree(twins, update)[1] is error
