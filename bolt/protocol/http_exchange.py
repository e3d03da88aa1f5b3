"""HTTP/1.1 requests on a kept-alive connection, sans-I/O: what bolt's server needs to run an ASGI
app's ``http`` scope (RFC 9112). httptools (llhttp) parses; this module turns its callbacks into
events, in order, however the bytes are cut and however many requests are pipelined:

    RequestHead(request, keep_alive, expect_continue)   the head of the next request
    Body(data)                                          a part of its body (chunked encoding undone)
    RequestEnd()                                        its body is complete
    Upgrade(request, trailing)                          a WebSocket opening handshake: the connection
                                                        leaves HTTP; ``trailing`` is what followed

A malformed request raises ``HandshakeError`` (400), a head over ``max_header_bytes`` or with more
than ``max_headers`` fields ``HeadersTooLarge`` (431). Request bodies are not limited here: the
caller counts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from httptools import HttpParserCallbackError, HttpParserError, HttpParserUpgrade, HttpRequestParser

from bolt.exceptions import HandshakeError, HeadersTooLarge
from bolt.protocol.http import Headers, Request, _split_target


@dataclass(frozen=True)
class RequestHead:
    request: Request
    keep_alive: bool
    expect_continue: bool


@dataclass(frozen=True)
class Body:
    data: bytes


@dataclass(frozen=True)
class RequestEnd:
    pass


@dataclass(frozen=True)
class Upgrade:
    request: Request
    trailing: bytes


Event = Union[RequestHead, Body, RequestEnd, Upgrade]


class HttpRequestStream:
    """The requests of one connection, as events."""

    def __init__(self, max_header_bytes: int = 16 * 1024, max_headers: int = 128) -> None:
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers
        self._parser = HttpRequestParser(self)
        self._events: list[Event] = []
        self._reset_head()
        self.upgraded = False

    def _reset_head(self) -> None:
        self._target = b""
        self._fields: list[tuple[str, str]] = []
        self._head_bytes = 0
        self._head: Request | None = None

    def feed(self, data: bytes) -> list[Event]:
        """Parse ``data``; return the events it completed."""
        if self.upgraded:
            raise HandshakeError("the connection left HTTP for WebSocket")
        events = self._events
        try:
            self._parser.feed_data(data)
        except HttpParserUpgrade as upgrade:
            offset = upgrade.args[0]
            if self._head is None:
                raise HandshakeError("Malformed HTTP request") from None
            self.upgraded = True
            events.append(Upgrade(self._head, bytes(data[offset:])))
        except HttpParserCallbackError as error:
            if isinstance(error.__context__, HandshakeError):
                raise error.__context__ from None
            raise HandshakeError("Malformed HTTP request") from error.__context__
        except HttpParserError as error:
            raise HandshakeError(f"Malformed HTTP request: {error}") from None
        self._events = []
        return events

    # llhttp's callbacks

    def on_message_begin(self) -> None:
        self._reset_head()

    def on_url(self, part: bytes) -> None:
        self._target += part
        self._count(len(part))

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(self._fields) == self.max_headers:
            raise HeadersTooLarge(f"More than {self.max_headers} header fields")
        self._count(len(name) + len(value) + 4)
        self._fields.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_header_bytes:
            raise HeadersTooLarge(f"HTTP request header block over {self.max_header_bytes} bytes")

    def on_headers_complete(self) -> None:
        parser = self._parser
        version = parser.get_http_version()
        if version == "0.9":
            raise HandshakeError("HTTP/0.9 is not served")
        target = self._target.decode("latin-1")
        path, query_string = _split_target(target)
        headers = Headers(self._fields)
        self._head = Request(parser.get_method().decode("latin-1"), target, path, query_string, version, headers)
        if parser.should_upgrade():
            return  # llhttp raises HttpParserUpgrade once the head is parsed: see feed()
        expect = headers.get("Expect", "").lower() == "100-continue"
        self._events.append(RequestHead(self._head, parser.should_keep_alive(), expect))

    def on_body(self, data: bytes) -> None:
        self._events.append(Body(bytes(data)))

    def on_message_complete(self) -> None:
        if not self.upgraded and not self._parser.should_upgrade():
            self._events.append(RequestEnd())
