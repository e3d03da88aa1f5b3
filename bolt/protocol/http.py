"""HTTP/1.1 for the opening handshake: header fields, requests and responses, their parsers, answers.

Sans-I/O: bytes go into a parser and a ``Request`` or ``Response`` comes out; ``http_response()``
builds the bytes of an answer. httptools (llhttp) does the parsing. This module adds what a
WebSocket endpoint needs on top of it:

- the end of the header block is found exactly however the bytes were cut, so the bytes a peer
  sent right behind it (its first WebSocket frames) are handed back in ``trailing``;
- the size of the header block and the number of fields are bounded while the bytes arrive;
- whatever the peer got wrong is a ``HandshakeError`` carrying the HTTP status to answer with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from http import HTTPStatus
from typing import overload
from urllib.parse import unquote, urlsplit

from httptools import (
    HttpParserCallbackError,
    HttpParserError,
    HttpParserUpgrade,
    HttpRequestParser,
    HttpResponseParser,
)

from bolt.exceptions import HandshakeError, HeadersTooLarge, InvalidState

# RFC 7230 §3.2.6: a token, what header names and many values are made of.
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 7230 §3.2: a field value is visible ASCII, obs-text (0x80-0xFF), space and tab. Anything
# else is refused: CR or LF would end the field and inject others, and a character past U+00FF
# has no latin-1 byte to be sent as.
_NOT_IN_VALUE = re.compile(r"[^\t\x20-\x7e\x80-\xff]")
# RFC 7230 §3.2.3: optional whitespace.
_OWS = " \t"
# llhttp accepts no other end of a header block than an empty line (CRLF CRLF).
_BLOCK_END = b"\r\n\r\n"
_REASONS = {status.value: status.phrase for status in HTTPStatus}


def is_token(text: str) -> bool:
    """True if ``text`` is an RFC 7230 §3.2.6 token (what header names and many values must be)."""
    return TOKEN.fullmatch(text) is not None


def comma_list(values: Iterable[str]) -> list[str]:
    """The elements of a comma-separated list spread over one or more fields (RFC 7230 §7).

    Each element is trimmed of whitespace, and empty elements are dropped, as §7 asks of a
    recipient.
    """
    return [element for value in values for element in (part.strip(_OWS) for part in value.split(",")) if element]


def check_field(name: str, value: str) -> None:
    """``ValueError`` unless ``name: value`` is a header field that can be sent as it is.

    A name that is not a token, or a value holding CR, LF, NUL or another character outside
    RFC 7230 §3.2, would let a caller's data forge header fields or a whole message (header
    injection). The message names the field, never its value, which may be a credential.
    """
    if not is_token(name):
        raise ValueError(f"{name!r} is not a valid header name (RFC 7230 §3.2.6: a token)")
    if _NOT_IN_VALUE.search(value):
        raise ValueError(
            f"the value of header {name!r} holds CR, LF, NUL, another control character "
            "or one past U+00FF (RFC 7230 §3.2)"
        )


def encode_fields(fields: Iterable[tuple[str, str]]) -> bytes:
    """Header fields as bytes, each line ending with CRLF; ``ValueError`` (see ``check_field``)."""
    lines = []
    for name, value in fields:
        check_field(name, value)
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("latin-1")


class Headers:
    """Header fields in the order received, names and values as str (latin-1 decoded).

    Lookup by name is case-insensitive (RFC 7230 §3.2). Iterating yields ``(name, value)`` pairs.
    """

    __slots__ = ("_fields", "_by_name")

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields = list(fields)
        self._by_name: dict[str, list[str]] = {}
        for name, value in self._fields:
            self._by_name.setdefault(name.lower(), []).append(value)

    @overload
    def get(self, name: str, default: None = None) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of the first field called ``name``, or ``default``."""
        values = self._by_name.get(name.lower())
        return values[0] if values else default

    def __getitem__(self, name: str) -> str:
        """The value of the first field called ``name``; ``KeyError`` if there is none."""
        values = self._by_name.get(name.lower())
        if not values:
            raise KeyError(name)
        return values[0]

    def get_all(self, name: str) -> list[str]:
        """The values of every field called ``name``, in the order received."""
        return list(self._by_name.get(name.lower(), ()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"Headers({self._fields!r})"


class Request:
    """An HTTP request's head.

    ``target`` is the request-target as sent; ``path`` its path, percent-decoded as UTF-8;
    ``query_string`` the raw text after ``?`` (empty when there is none).
    """

    __slots__ = ("method", "target", "path", "query_string", "http_version", "headers")

    def __init__(
        self, method: str, target: str, path: str, query_string: str, http_version: str, headers: Headers
    ) -> None:
        self.method = method
        self.target = target
        self.path = path
        self.query_string = query_string
        self.http_version = http_version
        self.headers = headers

    def __repr__(self) -> str:
        # The path without the query, which may carry a credential (?token=...): reprs reach logs.
        query = "?..." if self.query_string else ""
        return f"<Request {self.method} {self.path}{query} HTTP/{self.http_version}>"


class Response:
    """An HTTP response: status code, reason phrase, headers, the body (empty for a 101) and the
    HTTP version of its status line ("1.1")."""

    __slots__ = ("status", "reason", "headers", "body", "http_version")

    def __init__(self, status: int, reason: str, headers: Headers, body: bytes = b"", http_version: str = "1.1") -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.http_version = http_version

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"


def _split_target(target: str) -> tuple[str, str]:
    """The percent-decoded path and the raw query of a request-target (RFC 7230 §5.3).

    The errors do not quote the target: its query may carry a credential (``?token=...``), and
    what they say is the body of the 400.
    """
    # A fragment is never part of a request-target (RFC 7230 §5.1), but llhttp lets one through.
    target = target.partition("#")[0]
    if target.startswith("/"):
        path, _, query = target.partition("?")
    else:
        # absolute-form, which a server must accept (RFC 7230 §5.3.2); the asterisk-form of
        # OPTIONS keeps "*" as its path and the method check refuses it.
        try:
            parts = urlsplit(target)
        except ValueError:  # a bracketed host that is not an IPv6 literal, such as http://[
            raise HandshakeError("Malformed request-target") from None
        path, query = parts.path or "/", parts.query
    try:
        return unquote(path, errors="strict"), query
    except UnicodeDecodeError:
        raise HandshakeError("The request's path is not UTF-8 once percent-decoded") from None


class _HeaderBlockParser:
    """What the request and response parsers share: feeding httptools the header block.

    httptools is fed one segment at a time, each ending where the header block may end (after
    CRLF CRLF), so llhttp never parses a byte past the block: the offset of the block's end is
    exact even when llhttp does not report it (anything but an upgrade), and a pipelined request
    behind it is left alone. The segments are cut no further than ``max_header_bytes`` allows.
    """

    __slots__ = ("max_header_bytes", "max_headers", "trailing", "_http", "_fields", "_fed", "_tail", "_headers_done")

    def __init__(self, http_parser: type, max_header_bytes: int, max_headers: int) -> None:
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers
        self.trailing = b""
        self._http = http_parser(self)
        self._fields: list[tuple[str, str]] = []
        self._fed = 0  # bytes of the header block fed so far
        self._tail = b""  # its last three bytes, where a CRLF CRLF cut in two may have begun
        self._headers_done = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(self._fields) == self.max_headers:
            raise HeadersTooLarge(f"More than {self.max_headers} header fields")
        # RFC 7230 §3.2.4: the whitespace around a field value is not part of it (llhttp keeps
        # the trailing whitespace).
        self._fields.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))

    def _feed_header_block(self, data: bytes, kind: str) -> int | None:
        """Feed ``data`` until the header block is complete; the offset just past it, else None."""
        room = self.max_header_bytes - self._fed
        window = data[:room]
        start = 0
        while start < len(window):
            stop = self._segment_end(window, start)
            try:
                self._http.feed_data(window[start:stop])
            except HttpParserUpgrade as upgrade:
                offset: int = upgrade.args[0]  # where the upgrade's header block ends
                return start + offset
            except HttpParserCallbackError as error:
                if isinstance(error.__context__, HandshakeError):
                    raise error.__context__ from None
                # Whatever else a callback tripped on, the bytes were not an HTTP message we take.
                raise HandshakeError(f"Malformed HTTP {kind}") from error.__context__
            except HttpParserError as error:
                # A 101 without the upgrade fields makes llhttp stop with an error at the end of
                # a complete block; it is for the caller to refuse such a response.
                if not self._headers_done:
                    raise HandshakeError(f"Malformed HTTP {kind}: {error}") from None
            if self._headers_done:
                return stop
            start = stop
        self._fed += len(window)
        self._tail = (self._tail + window[-3:])[-3:]
        if len(data) > room:
            raise HeadersTooLarge(f"HTTP {kind} header block over {self.max_header_bytes} bytes")
        return None

    def _segment_end(self, window: bytes, start: int) -> int:
        """The offset just past the next CRLF CRLF in ``window`` from ``start``, else its length."""
        if start == 0 and self._tail:
            joined = self._tail + window[:3]
            found = joined.find(_BLOCK_END)
            if found != -1:
                return found + len(_BLOCK_END) - len(self._tail)
        found = window.find(_BLOCK_END, start)
        return len(window) if found == -1 else found + len(_BLOCK_END)


class RequestParser(_HeaderBlockParser):
    """Server role: parses the client's opening handshake request, however its bytes are cut.

    ``feed(data)`` returns the ``Request`` once the header block is complete, else None. Bytes
    that came after the block (a client may send its first frames right behind the request) are
    then in ``trailing``. Raises ``HandshakeError`` (400) for malformed HTTP or a request with a
    body, ``HeadersTooLarge`` (431) as soon as the block grows over ``max_header_bytes`` or has
    more than ``max_headers`` fields.
    """

    __slots__ = ("_target", "_request")

    def __init__(self, max_header_bytes: int = 16384, max_headers: int = 128) -> None:
        super().__init__(HttpRequestParser, max_header_bytes, max_headers)
        self._target = b""
        self._request: Request | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> Request | None:
        if self._request is not None:
            raise InvalidState("The request is complete; the bytes after it are in .trailing")
        data = bytes(data)
        end = self._feed_header_block(data, "request")
        if end is None:
            return None
        self.trailing = data[end:]
        return self._request

    def on_url(self, part: bytes) -> None:
        self._target += part

    def on_headers_complete(self) -> None:
        if self._http.get_http_version() == "0.9":
            # llhttp takes "GET /x" with no version as HTTP/0.9, which has no header block to end;
            # only HTTP/1.1 can upgrade (RFC 6455 §4.1), so it is refused here, whatever follows.
            raise HandshakeError("HTTP/0.9 cannot upgrade to WebSocket: HTTP/1.1 is required")
        headers = Headers(self._fields)
        # An opening handshake has no body (RFC 6455 §4.1), and bytes after the block are frames.
        if "Transfer-Encoding" in headers or int(headers.get("Content-Length", "0")) > 0:
            raise HandshakeError("A WebSocket upgrade request has no body")
        target = self._target.decode("latin-1")
        path, query_string = _split_target(target)
        method = self._http.get_method().decode("ascii")
        self._request = Request(method, target, path, query_string, self._http.get_http_version(), headers)
        self._headers_done = True


class ResponseParser(_HeaderBlockParser):
    """Client role: parses the server's answer to the opening handshake.

    ``feed(data)`` returns the ``Response`` once complete, else None: a 101 at the end of its
    header block, the bytes after it (frames the server sent at once) kept in ``trailing``; any
    other status once its body is complete (Content-Length or chunked; when the body runs to the
    close of the connection, call ``feed_eof()``). A body is kept up to ``max_body_bytes``: past
    that the response completes early with its body cut, since the client closes after a refusal
    anyway. 1xx responses before the final one are skipped (RFC 7231 §6.2).
    """

    __slots__ = ("max_body_bytes", "_status", "_reason", "_body", "_response", "_version")

    def __init__(self, max_header_bytes: int = 16384, max_headers: int = 128, max_body_bytes: int = 65536) -> None:
        super().__init__(HttpResponseParser, max_header_bytes, max_headers)
        self.max_body_bytes = max_body_bytes
        self._status = 0
        self._reason = b""
        self._body = bytearray()
        self._response: Response | None = None
        self._version = "1.1"

    def feed(self, data: bytes | bytearray | memoryview) -> Response | None:
        if self._response is not None:
            raise InvalidState("The response is complete; the bytes after a 101 are in .trailing")
        data = bytes(data)
        if not self._headers_done:
            end = self._feed_header_block(data, "response")
            if end is None:
                return None
            if self._status == 101:
                # RFC 6455 §4.1: after the 101 the connection speaks WebSocket, not HTTP.
                self.trailing = data[end:]
                self._complete(b"")
                return self._response
            data = data[end:]
        if data and self._response is None:
            try:
                self._http.feed_data(data)
            except (HttpParserError, HttpParserUpgrade) as error:
                # Whatever follows a complete response is not ours to judge.
                if self._response is None:
                    raise HandshakeError(f"Malformed HTTP response: {error}") from None
        return self._response

    def feed_eof(self) -> Response:
        """The connection closed: the response, when complete or when its body runs to the close.

        A body with neither Content-Length nor chunked encoding ends when the connection closes
        (RFC 7230 §3.3.3 item 7); any other response cut short is a ``HandshakeError``.
        """
        if self._response is None:
            headers = Headers(self._fields)
            if not self._headers_done or "Content-Length" in headers or "Transfer-Encoding" in headers:
                raise HandshakeError("The connection closed before the end of the HTTP response")
            self._complete(bytes(self._body))
        return self._response  # type: ignore[return-value]  # set by on_message_complete or _complete

    def on_message_begin(self) -> None:
        self._reason = b""

    def on_status(self, part: bytes) -> None:
        self._reason += part

    def on_headers_complete(self) -> None:
        status = self._http.get_status_code()
        if 100 <= status < 200 and status != 101:
            # An interim response (RFC 7231 §6.2): the final one follows it.
            self._fields = []
            return
        self._status = status
        self._version = self._http.get_http_version()
        self._headers_done = True

    def on_body(self, part: bytes) -> None:
        if self._response is None:
            self._body += part
            if len(self._body) > self.max_body_bytes:
                self._complete(bytes(self._body[: self.max_body_bytes]))

    def on_message_complete(self) -> None:
        if self._headers_done and self._response is None:
            self._complete(bytes(self._body))

    def _complete(self, body: bytes) -> None:
        self._response = Response(
            self._status, self._reason.decode("latin-1"), Headers(self._fields), body, self._version
        )


def http_response(
    status: int,
    body: bytes | str = b"",
    headers: Iterable[tuple[str, str]] = (),
    content_type: str | None = "text/plain; charset=utf-8",
    head_only: bool = False,
) -> bytes:
    """The bytes of a complete HTTP/1.1 response, for a request that is not upgraded.

    ``head_only`` answers a HEAD request: the same head, Content-Length included, and no body
    (RFC 7231 §4.3.2).

    A str body is sent as UTF-8. Content-Type (unless ``headers`` has one or ``content_type`` is
    None) and Content-Length are added, and ``Connection: close`` unless ``headers`` has a
    Connection field: after refusing an upgrade the server closes. 1xx, 204 and 304 answers
    have neither body nor Content-Length (RFC 7230 §3.3.2, §3.3.3 item 1).
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    fields = list(headers)
    given = {name.lower() for name, _ in fields}
    if "content-length" in given:
        raise ValueError("Content-Length is computed from the body")
    if status < 200 or status in (204, 304):
        if body:
            raise ValueError(f"An HTTP {status} response has no body")
    else:
        if content_type is not None and "content-type" not in given:
            fields.insert(0, ("Content-Type", content_type))
        fields.append(("Content-Length", str(len(body))))
    if "connection" not in given:
        fields.append(("Connection", "close"))
    head = _status_line(status) + encode_fields(fields) + b"\r\n"
    return head if head_only else head + body


def error_response(error: HandshakeError) -> bytes:
    """The answer to a refused handshake: its status, its headers, and its reason as the body."""
    return http_response(error.status, error.reason, error.headers)


def _status_line(status: int) -> bytes:
    """``HTTP/1.1 <status> <reason phrase>`` and CRLF; the phrase is empty for unknown codes."""
    if not 100 <= status <= 999:
        raise ValueError(f"{status} is not an HTTP status code")
    return f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\n".encode("ascii")
