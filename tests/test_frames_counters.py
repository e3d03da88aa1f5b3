"""The codec counts the messages it parses and frames, by type, and their bytes: what
``websocket.stats``, the access log and the metrics read, at no cost per message beyond two
integer additions in the codec. Every way a message is assembled counts once: a single frame,
fragments, a compressed message (its inflated size), and a large frame received straight into its
object (``get_buffer``)."""

from __future__ import annotations

import pytest

from tests.framing import cuts, raw_frame

TEXT, BINARY, CONTINUATION, PING = 0x1, 0x2, 0x0, 0x9


def received(parser) -> tuple:
    return parser.text_received, parser.text_bytes_received, parser.binary_received, parser.binary_bytes_received


def sent(writer) -> tuple:
    return writer.text_sent, writer.text_bytes_sent, writer.binary_sent, writer.binary_bytes_sent


def stream() -> bytes:
    return b"".join(
        [
            raw_frame(TEXT, "héllo".encode()),  # 6 bytes of UTF-8
            raw_frame(BINARY, b"\x00" * 300),
            raw_frame(PING, b"not a message"),
            raw_frame(TEXT, b"fra", fin=False),
            raw_frame(CONTINUATION, b"gmented"),
            raw_frame(BINARY, b"\x01" * 70_000),  # over 64 KiB: received directly with get_buffer
            raw_frame(TEXT, b"a" * 100_000),
        ]
    )


EXPECTED = (3, 6 + 10 + 100_000, 2, 300 + 70_000)


def test_every_message_counts_once_whole_and_cut_anyhow(codec):
    for way in cuts(stream()):
        parser = codec.FrameParser()
        for chunk in way:
            parser.feed(chunk)
        assert received(parser) == EXPECTED


def test_counted_through_get_buffer_as_the_event_loop_reads(codec):
    data = stream()
    parser = codec.FrameParser()
    position = 0
    while position < len(data):
        buffer = parser.get_buffer(-1)
        size = min(len(buffer), len(data) - position, 5000)
        buffer[:size] = data[position : position + size]
        position += size
        parser.buffer_updated(size)
    assert received(parser) == EXPECTED


def test_a_compressed_message_counts_its_inflated_size(codec):
    deflater = codec.Deflater(15, False, 1, 8, 0)
    payload = deflater.compress(b"z" * 5000)
    parser = codec.FrameParser(inflater=codec.Inflater(15, False))
    parser.feed(raw_frame(BINARY, payload, rsv=0x40) + raw_frame(TEXT, b"plain"))
    assert received(parser) == (1, 5, 1, 5000)


def test_a_message_refused_is_not_counted(codec):
    parser = codec.FrameParser()
    with pytest.raises(Exception):
        parser.feed(raw_frame(TEXT, b"ok") + raw_frame(TEXT, b"\xff\xfe"))
    assert received(parser) == (1, 2, 0, 0)


@pytest.mark.parametrize("zero_copy", [False, True])
@pytest.mark.parametrize("fragment_size", [None, 1000])
def test_the_writer_counts_messages_and_their_bytes_before_compressing(codec, zero_copy, fragment_size):
    writer = codec.FrameWriter(
        fragment_size=fragment_size, zero_copy=zero_copy, deflater=codec.Deflater(15, False, 1, 8, 128)
    )
    writer.text("ascii")
    writer.text("ünïcode")  # 9 bytes of UTF-8
    writer.text("x" * 100_000)  # large enough to leave as a zero-copy pair
    writer.binary(b"\x00" * 5000)  # compressed on the wire; counted as given
    writer.binary(memoryview(bytearray(b"12345678")).cast("H"))  # 4 items, 8 bytes
    writer.ping(b"control frames are not messages")
    with pytest.raises(UnicodeEncodeError):
        writer.text("\ud800")
    with pytest.raises(TypeError):
        writer.binary("text")
    assert sent(writer) == (3, 5 + 9 + 100_000, 2, 5008)
