"""What one connection has done: messages and bytes each way by type, pings, its round trip, how
long it has been open and how it ended. ``websocket.stats``, the access log and the metrics all
read these figures; the codec and the stream keep them as plain integers, so counting costs no call
per message (see ``bolt.protocol.connection.Connection.message_counts``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConnectionStats:
    # Messages and their payload bytes (a text message's UTF-8; a compressed one's size inflated,
    # or before compressing), from the opening handshake's end on; broadcasts count as sent.
    text_received: int = 0
    text_bytes_received: int = 0
    binary_received: int = 0
    binary_bytes_received: int = 0
    text_sent: int = 0
    text_bytes_sent: int = 0
    binary_sent: int = 0
    binary_bytes_sent: int = 0
    # Pings the peer sent (each answered), pings sent (keepalive and ``ping()``) and the pongs
    # that answered them, with the last round trip in seconds.
    pings_received: int = 0
    pings_sent: int = 0
    pongs_received: int = 0
    last_rtt: float | None = None
    # Seconds since the connection opened (the 101), or that it was open, once closed.
    duration: float = 0.0
    # Once closed: the close code (1006 for TCP closed without a close frame) and who started the
    # closing handshake: "server"/"client" from this end's role, or None when neither did.
    close_code: int | None = None
    closed_by: str | None = None

    @property
    def messages_received(self) -> int:
        return self.text_received + self.binary_received

    @property
    def messages_sent(self) -> int:
        return self.text_sent + self.binary_sent

    @property
    def bytes_received(self) -> int:
        return self.text_bytes_received + self.binary_bytes_received

    @property
    def bytes_sent(self) -> int:
        return self.text_bytes_sent + self.binary_bytes_sent
