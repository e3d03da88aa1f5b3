"""A message framed once for many connections: what a broadcast writes to every member.

A server's frames are never masked (RFC 6455 §5.1), so the same bytes are a valid frame on every
connection a server holds. They are sent uncompressed: with permessage-deflate each connection has
its own compression context, and RFC 7692 §6.1 leaves compressing each message to the sender (RSV1
clear), so an uncompressed frame is valid on a connection that agreed to compress.
"""

from __future__ import annotations

from bolt import codec
from bolt._coerce import as_str
from bolt.exceptions import ProtocolError


class PreparedMessage:
    """One text (``str``) or binary message and its frame, each made at most once.

    Built from the data (a publisher) or from a frame received from another process (a broker),
    which is checked to be exactly one whole, valid data message before anything is written.
    """

    __slots__ = ("_data", "_frame", "size")

    def __init__(self, data: str | bytes | bytearray | memoryview, fragment_size: int | None = None) -> None:
        if isinstance(data, str):
            # An exact str: a str subclass (a StrEnum member) is sent as its text, as send_text() does.
            self._data: str | bytes = as_str(data, "broadcast data")
        elif isinstance(data, (bytes, bytearray, memoryview)):
            self._data = bytes(data)
        else:
            raise TypeError(f"a broadcast is str (text) or bytes-like (binary), not {type(data).__name__}")
        writer = codec.FrameWriter(client=False, fragment_size=fragment_size)
        data = self._data
        frame = writer.text(data, False) if isinstance(data, str) else writer.binary(data, False)
        # Without zero_copy a writer returns bytes, never a (header, payload) pair.
        self._frame = bytes(frame)  # type: ignore[arg-type]
        #: The payload's size in bytes (a text message's UTF-8), as connections count what they send.
        self.size = writer.text_bytes_sent + writer.binary_bytes_sent

    @classmethod
    def from_frame(cls, frame: bytes) -> PreparedMessage:
        """The message a frame (or the fragments of one message) carries; ``ProtocolError`` if it
        is anything else: a control frame, an incomplete or masked frame, invalid UTF-8, bytes
        after the message."""
        # Parsed as a client parses a server's frames: unmasked, any size.
        parser = codec.FrameParser(client=True, max_message_size=None)
        events = parser.feed(frame)
        if len(events) != 1 or type(events[0]) not in (str, bytes) or parser.buffered:
            raise ProtocolError("not exactly one data message")
        message = cls.__new__(cls)
        message._data = events[0]  # type: ignore[assignment]  # a str or bytes: checked above
        message._frame = bytes(frame)
        message.size = parser.text_bytes_received + parser.binary_bytes_received
        return message

    @property
    def is_text(self) -> bool:
        return type(self._data) is str

    @property
    def data(self) -> str | bytes:
        return self._data

    @property
    def frame(self) -> bytes:
        return self._frame

    def __len__(self) -> int:
        return len(self._data)
