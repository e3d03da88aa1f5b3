"""What a bolt connection can be configured with, and the defaults a user would expect."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from bolt.protocol.deflate import PerMessageDeflate
from bolt.transport.access import FORMATS as ACCESS_LOG_FORMATS
from bolt.transport.endpoints import CHOICES as TRANSPORTS
from bolt.transport.limits import RateLimit

if TYPE_CHECKING:
    from bolt.protocol.connection import CodecOptions


@dataclass(frozen=True)
class Settings:
    """Limits and timeouts for every connection of a server or a client (seconds, bytes).

    ``None`` turns a limit or a timer off.
    """

    max_message_size: int | None = 16 * 1024 * 1024
    max_frame_size: int | None = None
    # Outgoing messages longer than this are sent in fragments of this size.
    fragment_size: int | None = None
    # Messages received but not yet read by the handler, counted and in bytes: past either, bolt
    # stops reading the socket until the handler has read half of them. One message always fits,
    # so a connection holds at most about max_message_size + inbox_bytes + its read buffer.
    inbox_size: int = 64
    inbox_bytes: int = 1024 * 1024
    # The transport's write buffer: a send waits for drain above the high mark, until under the low.
    write_high_water: int = 64 * 1024
    write_low_water: int = 16 * 1024
    # A peer that reads nothing of what we send for this long is dropped.
    write_timeout: float | None = 60.0
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    close_timeout: float = 10.0
    # After a protocol violation, how long a handler that is not receiving gets to take the
    # messages that arrived before it, before the connection is failed anyway.
    violation_grace: float = 1.0
    handshake_timeout: float = 10.0
    # How long the application may take to accept or refuse a complete request: then 503.
    accept_timeout: float | None = 10.0
    max_header_bytes: int = 16 * 1024
    max_connections: int | None = None
    # On shutdown, how long open connections get to finish their close handshake and handlers.
    shutdown_timeout: float = 5.0
    # permessage-deflate (RFC 7692): a server accepts it when the client offers it, a client offers
    # it. The window (bits) is the largest this end compresses with and the largest it asks the
    # peer to use. Level 1 with a 15-bit window and memory level 8 is zlib's fastest (aiohttp's and
    # Node ws's choice; on JSON under half of level 6's CPU for about an eighth more bytes, and a
    # 12-bit window with memory level 5 is 20-40% slower). Its zlib state is about 290 KiB for a
    # connection that compresses, made at its first compressed message: with many busy
    # connections, a 12-bit window and memory level 5 (websockets' choice) take about 45 KiB, and
    # compression_no_context_takeover frees it after every message.
    compression: bool = True
    compression_level: int = 1
    compression_memory_level: int = 8
    compression_window_bits: int = 15
    # Messages shorter than this go out uncompressed: deflate would cost more than it saves.
    compression_min_size: int = 128
    # Reset this end's compressor after every message: less memory, worse compression.
    compression_no_context_takeover: bool = False
    # The TCP transport: "loop" (the event loop's own), "aiofastnet" (its compiled one: less CPU
    # per message, more memory per connection), or "auto" (the default: the BOLT_TRANSPORT
    # environment variable, else the loop's own). See bolt.transport.endpoints.
    transport: str = "auto"
    # The access log (the "bolt.access" logger at INFO): "off", "text" or "json" lines, one per
    # handshake answered and one per connection ended. See bolt.transport.access.
    access_log: str = "off"
    # A limit on the messages (and/or bytes) a peer sends per second, with what happens past it:
    # RateLimit(messages=50, burst=100, policy="pause") (bolt.transport.limits). None: no limit.
    rate_limit: RateLimit | None = None
    # Reverse proxies (addresses or networks, "10.0.0.0/8") whose X-Forwarded-For and
    # X-Forwarded-Proto are believed: the client's address is then the one they forwarded for.
    trusted_proxies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.inbox_size < 1:
            raise ValueError("inbox_size must be at least 1")
        if self.inbox_bytes < 1:
            raise ValueError("inbox_bytes must be at least 1")
        if self.rate_limit is not None and not isinstance(self.rate_limit, RateLimit):
            raise TypeError(f"rate_limit is a bolt.transport.limits.RateLimit, not {type(self.rate_limit).__name__}")
        if self.access_log not in ACCESS_LOG_FORMATS:
            raise ValueError(f"access_log is one of {', '.join(ACCESS_LOG_FORMATS)}, not {self.access_log!r}")
        if self.transport not in TRANSPORTS:
            raise ValueError(f"transport is one of {', '.join(TRANSPORTS)}, not {self.transport!r}")

    def deflate(self, *, client: bool) -> PerMessageDeflate | None:
        """permessage-deflate as configured, for one role; None when compression is off."""
        if not self.compression:
            return None
        reset = self.compression_no_context_takeover
        return PerMessageDeflate(
            server_no_context_takeover=reset and not client,
            client_no_context_takeover=reset and client,
            server_max_window_bits=self.compression_window_bits,
            # 15 is every peer's default: there is nothing to ask for.
            client_max_window_bits=self.compression_window_bits if self.compression_window_bits < 15 else None,
            level=self.compression_level,
            memory_level=self.compression_memory_level,
            min_size=self.compression_min_size,
        )

    @classmethod
    def names(cls) -> frozenset[str]:
        return frozenset(field.name for field in fields(cls))

    def codec_options(self) -> CodecOptions:
        return {
            "max_message_size": self.max_message_size,
            "max_frame_size": self.max_frame_size,
            "fragment_size": self.fragment_size,
        }
