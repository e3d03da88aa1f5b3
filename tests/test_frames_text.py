"""Text messages to and from ``str`` (bolt/_speedups/text_kernel.h in the compiled codec, Python's
own codec in the pure one): every path a text message takes gives exactly the ``str`` Python would,
built in the same width (PEP 393: a str holding only code points up to U+00FF must be one byte a
character, up to U+FFFF two; CPython compares strings by width first), and every ``str`` is framed
as exactly its UTF-8.

The paths: a message in one frame, in fragments, received directly (64 KiB and more), compressed,
and a close reason; sent plain, masked (client), compressed, fragmented and apart (64 KiB and more).
"""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bolt.exceptions import InvalidUTF8
from tests.conftest import load_module
from tests.conformance.client import CLOSE, TEXT, frame

KiB = 1024
# Each width, and the edges where UTF-8 lengths and str widths change.
SAMPLES = [
    "",
    "plain ASCII",
    "\x80",
    "\xff",
    "ÿÿ and é",
    "\u0100",
    "\u07ff\u0800",
    "\uffff",
    "\U00010000",
    "\U0010ffff",
    "Grüße, Привет, 你好, こんにちは, 🎉🚀",
    "a" * 100 + "\U0001f600",  # a wide character after a long ASCII run
    "\U0001f600" + "a" * 100,
    "é" * 3000,
]


@pytest.fixture(params=["compiled", "pure"])
def frames(request):
    return load_module(request.param, "frames")


def same_str(received: str, expected: str) -> None:
    assert type(received) is str
    assert received == expected
    # Same width and length: a str built in the wrong width has another size (and compares unequal
    # to a correct one in places CPython compares widths first). Against a copy made by slicing,
    # which is built in the narrowest width and holds nothing else: a str can also keep its UTF-8
    # (after encode() or PyUnicode_AsUTF8, and from 3.12 some decoded ones), which getsizeof counts.
    narrowest = (expected + " ")[:-1]
    assert sys.getsizeof(received) == sys.getsizeof(narrowest)
    assert hash(received) == hash(expected)


def paths(frames, text: str) -> list:
    """``text`` received every way a server can receive it."""
    payload = text.encode()
    results = []
    parser = frames.FrameParser()
    results += parser.feed(frame(TEXT, payload))
    if len(payload) > 1:
        cut = len(payload) // 2
        results += parser.feed(frame(TEXT, payload[:cut], fin=False) + frame(0x0, payload[cut:]))
    # Byte by byte: the frame is validated as it arrives.
    parser = frames.FrameParser()
    data = frame(TEXT, payload)
    for index in range(len(data)):
        results += parser.feed(data[index : index + 1])
    return results


@pytest.mark.parametrize("text", SAMPLES, ids=range(len(SAMPLES)))
def test_every_receive_path_builds_the_str_python_would(frames, text):
    received = paths(frames, text)
    assert len(received) == (3 if len(text.encode()) > 1 else 2)
    for message in received:
        same_str(message, text)


@pytest.mark.parametrize("text", SAMPLES, ids=range(len(SAMPLES)))
def test_every_send_path_frames_exactly_the_utf8(frames, text):
    payload = text.encode()
    client = frames.FrameParser(client=True)
    assert client.feed(frames.FrameWriter().text(text)) == [text]
    assert frames.FrameWriter().text(text).endswith(payload)
    server = frames.FrameParser()
    masked = frames.FrameWriter(client=True).text(text)
    same_str(server.feed(masked)[0], text)
    if len(payload) > 3:
        fragmented = frames.FrameWriter(fragment_size=3).text(text)
        same_str(frames.FrameParser(client=True).feed(fragmented)[0], text)


@pytest.mark.parametrize("text", ["é" * 70_000, "你好" * 20_000, "🎉" * 20_000, "a" * 70_000 + "🎉"])
def test_large_text_received_directly_and_sent_apart(frames, text):
    payload = text.encode()
    parser = frames.FrameParser()
    data = frame(TEXT, payload)
    received = []
    for start in range(0, len(data), 10_000):
        received += parser.feed(data[start : start + 10_000])
    same_str(received[0], text)
    header, body = frames.FrameWriter(zero_copy=True).text(text)
    assert bytes(body) == payload
    same_str(frames.FrameParser(client=True).feed(header + bytes(body))[0], text)


def test_compressed_text(frames):
    deflate = load_module("compiled" if frames.__name__.startswith("bolt._speedups") else "pure", "deflate")
    text = "Grüße, 你好, 🎉 " * 500
    writer = frames.FrameWriter(deflater=deflate.Deflater(15, False, 1, 8, 128))
    parser = frames.FrameParser(client=True, inflater=deflate.Inflater(15, False))
    same_str(parser.feed(writer.text(text))[0], text)


def test_a_close_reason_in_any_script(frames):
    reason = "au revoir, 再见, 🎉"
    close = frames.FrameParser().feed(frame(CLOSE, b"\x03\xe8" + reason.encode()))[0]
    same_str(close.reason, reason)


@pytest.mark.parametrize(
    "payload",
    [b"\xc3", b"abc\xe4\xbd", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"ok\xff", "é".encode() * 40_000 + b"\xc3"],
    ids=["cut 2-byte", "cut 3-byte", "surrogate", "past U+10FFFF", "overlong", "FF", "large, cut at the end"],
)
def test_invalid_utf8_is_refused_on_every_path(frames, payload):
    with pytest.raises(InvalidUTF8):
        frames.FrameParser().feed(frame(TEXT, payload))
    with pytest.raises(InvalidUTF8):
        parser = frames.FrameParser()
        parser.feed(frame(TEXT, payload[:1], fin=False))
        parser.feed(frame(0x0, payload[1:]))


def test_a_lone_surrogate_cannot_be_sent(frames):
    for text in ("\ud800", "ok \udfff", "é\ud83d", "🎉\udc00"):
        with pytest.raises(UnicodeEncodeError, match="surrogates not allowed"):
            frames.FrameWriter().text(text)


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_any_text_round_trips_as_python_would(text):
    compiled = load_module("compiled", "frames")
    try:
        text.encode()
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            compiled.FrameWriter().text(text)
        return
    sent = compiled.FrameWriter().text(text)
    assert sent.endswith(text.encode())
    for message in paths(compiled, text):
        same_str(message, text)


def expected_text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def check_like_python(parser_factory, data: bytes) -> None:
    expected = expected_text(data)
    try:
        received = parser_factory().feed(frame(TEXT, data))
    except InvalidUTF8:
        assert expected is None, data
    else:
        assert expected is not None, data
        same_str(received[0], expected)


def test_every_two_byte_sequence_and_the_edges_of_longer_ones_like_python():
    """The compiled decoder validates as it decodes: it must refuse exactly what Python refuses,
    whatever the width the largest byte chose (a bad byte after valid text of each width too)."""
    compiled = load_module("compiled", "frames")
    for first in range(256):
        for second in range(256):
            check_like_python(compiled.FrameParser, bytes([first, second]))
    seconds = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF]
    for lead in range(0xC0, 0x100):
        for second in seconds:
            for third in (0x80, 0xBF, 0x41, 0xC0):
                for fourth in (0x80, 0xBF, 0x41):
                    for prefix in (b"", "é".encode(), "你".encode()):
                        check_like_python(compiled.FrameParser, prefix + bytes([lead, second, third, fourth]))
                        check_like_python(compiled.FrameParser, prefix + bytes([lead, second, third]))


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=40),
        st.text(max_size=40).map(lambda text: text.encode("utf-8", "surrogatepass")),
        st.tuples(st.text(max_size=30), st.binary(max_size=3), st.text(max_size=30)).map(
            lambda parts: parts[0].encode("utf-8", "surrogatepass") + parts[1] + parts[2].encode("utf-8", "surrogatepass")
        ),
    )
)
def test_any_bytes_are_decoded_or_refused_as_python_would(data):
    check_like_python(load_module("compiled", "frames").FrameParser, data)
