"""bolt's server running any ASGI 3 application (``python -m bolt module:app --asgi``): Starlette's
and FastAPI's WebSocket routes on bolt's transport and codec.

- ``websocket`` scope (spec 2.4): the handshake is checked by bolt first (a request that is no
  valid upgrade gets its 400 or 426 without reaching the app); ``websocket.accept`` with its
  subprotocol and headers, ``websocket.send`` (waiting for the transport to drain when it asks),
  ``websocket.close`` with code and reason (before accepting: 403), and the
  ``websocket.http.response`` extension for a refusal with its own status and body. An app that
  returns without accepting gets 403 sent for it; one that raises, 500 (or 1011 once open).
- ``http`` scope (HTTP/1.1, RFC 9112): requests kept alive and pipelined on one connection
  (answered in order), bodies by Content-Length or chunked (``Expect: 100-continue`` answered when
  the app first reads), responses streamed: with the app's Content-Length, else chunked, except a
  response whose body comes in one piece, which gets its Content-Length. HEAD gets the head only.
  ``HttpSession`` parses with httptools (bolt/protocol/http_exchange.py); a request that opens a
  WebSocket hands the connection to the WebSocket path above, even after other requests.
- ``lifespan``: run at startup and shutdown when the app supports it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from http import HTTPStatus
from typing import Any

from bolt.close_codes import CloseCode
from bolt.exceptions import ConnectionClosed, HandshakeError, WebSocketDisconnect
from bolt.protocol.connection import State
from bolt.protocol.http import Request
from bolt.protocol.http_exchange import Body, HttpRequestStream, RequestEnd, RequestHead, Upgrade
from bolt.transport.server_session import ServerSession

logger = logging.getLogger("bolt")
ASGI = {"version": "3.0", "spec_version": "2.4"}


class ClientDisconnected(OSError):
    """What ``send`` raises once the connection is gone (ASGI: a subclass of IOError)."""


class AsgiHost:
    """The application bolt's ``Server`` runs for an ASGI app; its connections are HttpSessions."""

    @property
    def session_class(self) -> type[ServerSession]:
        return HttpSession

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state: dict[str, Any] = {}  # the lifespan's state, copied into each scope (ASGI lifespan spec 2.3)
        self._lifespan: asyncio.Task[None] | None = None
        self._lifespan_events: asyncio.Queue[dict[str, Any]] | None = None
        self._lifespan_answer: asyncio.Queue[dict[str, Any]] | None = None

    # Lifespan

    async def startup(self) -> None:
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": ASGI, "state": self.state}

        async def run() -> None:
            try:
                await self.app(scope, events.get, answers.put)
            except Exception as error:
                await answers.put({"type": "unsupported", "error": error})

        self._lifespan = asyncio.create_task(run())
        await events.put({"type": "lifespan.startup"})
        answer = await answers.get()
        if answer["type"] == "lifespan.startup.failed":
            raise RuntimeError(f"the ASGI app's startup failed: {answer.get('message', '')}")
        if answer["type"] == "unsupported":
            # An app without lifespan raises on the scope (the spec's way to say so): serve anyway.
            logger.debug("the ASGI app does not support lifespan (%r)", answer["error"])
            self._lifespan = None
            return
        self._lifespan_events, self._lifespan_answer = events, answers

    async def shutdown(self) -> None:
        if self._lifespan is None or self._lifespan_events is None:
            return
        await self._lifespan_events.put({"type": "lifespan.shutdown"})
        answer = await self._lifespan_answer.get()  # type: ignore[union-attr]  # set with _lifespan_events
        if answer["type"] == "lifespan.shutdown.failed":
            logger.error("the ASGI app's shutdown failed: %s", answer.get("message", ""))
        await asyncio.wait([self._lifespan], timeout=5)
        self._lifespan = None

    # A request

    async def __call__(self, session: Any) -> None:
        request = session.request
        if "websocket" in request.headers.get("Upgrade", "").lower():
            try:
                session.check_upgrade()
            except HandshakeError as error:
                session.respond_error(error)
                return
            await _WebSocketExchange(self, session).run()
        else:
            session.respond(400, "Not a WebSocket request")  # HttpSession serves HTTP itself

    def scope(self, session: Any, kind: str) -> dict[str, Any]:
        request = session.request
        raw_path = request.target.split("?", 1)[0]
        scope = {
            "type": kind,
            "asgi": ASGI,
            "http_version": "1.1",
            "scheme": ("wss" if session.secure else "ws") if kind == "websocket" else ("https" if session.secure else "http"),
            "path": request.path,
            "raw_path": raw_path.encode("latin-1"),
            "query_string": request.query_string.encode("latin-1"),
            "root_path": "",
            "headers": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in request.headers],
            "client": list(session.client) if session.client is not None else None,
            "server": None,
            "state": dict(self.state),
        }
        if kind == "websocket":
            scope["subprotocols"] = session.offered_subprotocols
            scope["extensions"] = {"websocket.http.response": {}}
        else:
            scope["method"] = request.method
        return scope


def _fields(headers: Any) -> list[tuple[str, str]]:
    return [(bytes(name).decode("latin-1"), bytes(value).decode("latin-1")) for name, value in headers or ()]


def _answer_fields(headers: Any) -> list[tuple[str, str]]:
    """An app's response headers, less those bolt computes for the whole body it sends."""
    return [(name, value) for name, value in _fields(headers) if name.lower() not in _COMPUTED]


_COMPUTED = ("content-length", "transfer-encoding", "connection")


class _WebSocketExchange:
    def __init__(self, host: AsgiHost, session: Any) -> None:
        self.host = host
        self.session = session
        self.connected = False
        self.disconnected = False
        self.response: tuple[int, list[tuple[str, str]], list[bytes]] | None = None

    async def run(self) -> None:
        session = self.session
        try:
            await self.host.app(self.host.scope(session, "websocket"), self.receive, self.send)
        except Exception:
            logger.exception("the ASGI app failed on %s", session.request)
            if session.state is State.CONNECTING:
                session.respond(500, "Internal Server Error")
            elif session.state is State.OPEN:
                await session.close(CloseCode.INTERNAL_ERROR)
            return
        if session.state is State.CONNECTING:
            session.respond(403, "The application did not accept the connection")
        elif session.state is State.OPEN:
            await session.close(CloseCode.NORMAL_CLOSURE)

    async def receive(self) -> dict[str, Any]:
        session = self.session
        if not self.connected:
            self.connected = True
            return {"type": "websocket.connect"}
        if self.disconnected:
            return {"type": "websocket.disconnect", "code": session.close_code or CloseCode.ABNORMAL_CLOSURE}
        if session.state is State.CONNECTING:
            await session.wait_closed()  # nothing comes before accepting but the client leaving
            self.disconnected = True
            return {"type": "websocket.disconnect", "code": CloseCode.ABNORMAL_CLOSURE}
        try:
            message = await session.receive()
        except WebSocketDisconnect as disconnect:
            self.disconnected = True
            return {"type": "websocket.disconnect", "code": disconnect.code, "reason": disconnect.reason}
        if type(message) is str:
            return {"type": "websocket.receive", "text": message}
        return {"type": "websocket.receive", "bytes": message}

    async def send(self, event: dict[str, Any]) -> None:
        session = self.session
        kind = event["type"]
        try:
            if kind == "websocket.send":
                text = event.get("text")
                if session.send_text(text) if text is not None else session.send_bytes(event.get("bytes") or b""):
                    await session.drain()
            elif kind == "websocket.accept":
                session.accept(event.get("subprotocol"), _fields(event.get("headers")))
            elif kind == "websocket.close":
                if session.state is State.CONNECTING:
                    session.respond(403, "The application closed the connection before accepting it")
                else:
                    session.start_closing(event.get("code", CloseCode.NORMAL_CLOSURE), event.get("reason") or "")
            elif kind == "websocket.http.response.start":
                self.response = (event["status"], _answer_fields(event.get("headers")), [])
            elif kind == "websocket.http.response.body":
                if self.response is None:
                    raise RuntimeError("websocket.http.response.body before websocket.http.response.start")
                self.response[2].append(bytes(event.get("body", b"")))
                if not event.get("more_body", False):
                    status, headers, body = self.response
                    session.respond(status, b"".join(body), headers)
            else:
                raise ValueError(f"unknown ASGI event on a websocket scope: {kind!r}")
        except (ConnectionClosed, WebSocketDisconnect) as closed:
            raise ClientDisconnected(str(closed)) from None



# HTTP/1.1

KEEP_ALIVE_TIMEOUT = 5.0  # an idle kept-alive connection is closed after this (uvicorn's default)
BODY_BUFFER = 64 * 1024  # request body bytes read ahead of the app before reading pauses


class HttpSession(ServerSession):
    """A connection that serves HTTP/1.1 requests to an ASGI app, one after the other, until one
    of them opens a WebSocket: from there it is a ``ServerSession`` like any."""

    def __init__(self, host: Any) -> None:
        super().__init__(host)
        self._http = HttpRequestStream(self.settings.max_header_bytes)
        self._exchanges: deque[HttpExchange] = deque()  # parsed, in order; the first is served
        self._upgrade: Upgrade | None = None  # a handshake waiting behind pipelined requests
        self._idle: asyncio.TimerHandle | None = None
        self._http_request: Request | None = None

    @property
    def request(self) -> Request | None:
        if self._http_request is not None:
            return self._http_request
        return self.connection.request

    def _handshake_received(self, nbytes: int) -> None:
        if self.connection.request is not None or self._http.upgraded and self._upgrade is None:
            super()._handshake_received(nbytes)  # the WebSocket handshake's: early frames
            return
        try:
            events = self._http.feed(bytes(self._request_buffer[:nbytes]))
        except HandshakeError as error:
            self._cancel_timer("_handshake_deadline")
            if self._exchanges:
                self.transport.close()  # answers are owed before: no room for a 400 in between
            else:
                self.respond_error(error)
            return
        for event in events:
            if isinstance(event, Body):
                self._exchanges[-1].body(event.data)
            elif isinstance(event, RequestEnd):
                self._exchanges[-1].end()
            elif isinstance(event, RequestHead):
                self._cancel_timer("_handshake_deadline")
                self._cancel_idle()
                self._exchanges.append(HttpExchange(self, event))
                if len(self._exchanges) == 1:
                    self._exchanges[0].start()
            else:
                self._upgrade = event
                self._block_reading("upgrade")
                if not self._exchanges:
                    self._take_upgrade()

    def _take_upgrade(self) -> None:
        """The next request opens a WebSocket: the rest is ServerSession's handshake."""
        upgrade, self._upgrade = self._upgrade, None
        assert upgrade is not None  # called only with a handshake waiting
        self._http_request = None
        self._cancel_idle()
        self.connection.use_request(upgrade.request, upgrade.trailing)
        self._unblock_reading("upgrade")
        if self.settings.accept_timeout is not None:
            self._handshake_deadline = self.loop.call_later(self.settings.accept_timeout, self._accept_timed_out)
        self.task = self.loop.create_task(self._run_app())

    def exchange_done(self, exchange: HttpExchange) -> None:
        """A response is complete: serve the next request, or close, or wait for one."""
        self._exchanges.popleft()
        self._http_request = None
        if self._lost:
            return
        if not exchange.keep_alive:
            self.transport.close()
        elif self._exchanges:
            self._exchanges[0].start()
        elif self._upgrade is not None:
            self._take_upgrade()
        else:
            self._idle = self.loop.call_later(KEEP_ALIVE_TIMEOUT, self._idle_timed_out)

    def _idle_timed_out(self) -> None:
        self._idle = None
        if not self._lost and not self._exchanges:
            self.transport.close()

    def _cancel_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_idle()
        super().connection_lost(exc)
        for exchange in self._exchanges:
            exchange.lost()


class HttpExchange:
    """One request and its response, for the ASGI ``http`` scope."""

    def __init__(self, session: HttpSession, head: RequestHead) -> None:
        self.session = session
        self.request = head.request
        self.keep_alive = head.keep_alive
        self._expect_continue = head.expect_continue
        self._body: deque[bytes] = deque()
        self._buffered = 0
        self._received = 0
        self._complete = False  # the whole request body has arrived
        self._body_ended = False  # the app was given its end
        self._arrived = asyncio.Event()  # a body part, the end, or the client gone
        self._finished = asyncio.Event()  # the response is complete, or the client gone
        self._started: tuple[int, list[tuple[str, str]]] | None = None
        self._head_written = False
        self._chunked = False
        self._gone = False
        self._task: asyncio.Future[None] | None = None

    # Fed by the session

    def body(self, data: bytes) -> None:
        self._received += len(data)
        limit = self.session.settings.max_message_size
        if limit is not None and self._received > limit:
            self._refuse_body()
            return
        self._body.append(data)
        self._buffered += len(data)
        self._arrived.set()
        if self._buffered > BODY_BUFFER:
            self.session._block_reading("http body")

    def end(self) -> None:
        self._complete = True
        self._arrived.set()

    def lost(self) -> None:
        self._gone = True
        self._arrived.set()
        self._finished.set()

    def _refuse_body(self) -> None:
        """A body over max_message_size: 413, and the connection closes (the rest is unread)."""
        self.keep_alive = False
        if not self._head_written:
            self._write_head(413, [("Content-Type", "text/plain; charset=utf-8")], len(b"Request body too large"))
            self.session.transport.write(b"Request body too large")
        self.session.transport.close()
        self.lost()

    # The app

    def start(self) -> None:
        self.session._http_request = self.request
        # Kept: the loop holds tasks weakly, and an unreferenced one may be collected mid-request.
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        session = self.session
        host = session.host.app
        assert isinstance(host, AsgiHost)  # an HttpSession serves an AsgiHost only
        try:
            await host.app(host.scope(session, "http"), self.receive, self.send)
        except Exception:
            logger.exception("the ASGI app failed on %s", self.request)
            if not self._head_written and not self._gone:
                self.keep_alive = False
                self._respond_whole(500, [("Content-Type", "text/plain; charset=utf-8")], b"Internal Server Error")
            elif not self._gone:
                session.transport.abort()  # a response cut short: the client must not take it for whole
                self._gone = True
        else:
            if not self._gone and not self._finished.is_set():
                if self._started is None:
                    self.keep_alive = False
                    self._respond_whole(500, [("Content-Type", "text/plain; charset=utf-8")], b"No response")
                else:
                    logger.error("the ASGI app returned before its response was complete: %s", self.request)
                    session.transport.abort()
                    self._gone = True
        if not self._gone:
            session.exchange_done(self)

    async def receive(self) -> dict[str, Any]:
        if self._expect_continue and not self._head_written and not self._gone:
            self._expect_continue = False  # RFC 9110 §10.1.1: the client waits for this to send the body
            self.session.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        while True:
            if self._gone:
                return {"type": "http.disconnect"}
            if self._body:
                data = self._body.popleft()
                self._buffered -= len(data)
                if self._buffered <= BODY_BUFFER // 2:
                    self.session._unblock_reading("http body")
                more = bool(self._body) or not self._complete
                self._body_ended = not more
                return {"type": "http.request", "body": data, "more_body": more}
            if self._complete and not self._body_ended:
                self._body_ended = True
                return {"type": "http.request", "body": b"", "more_body": False}
            if self._body_ended:
                # The spec's next event: the response was sent, or the client left.
                await self._finished.wait()
                return {"type": "http.disconnect"}
            self._arrived.clear()
            await self._arrived.wait()

    async def send(self, event: dict[str, Any]) -> None:
        if self._gone:
            raise ClientDisconnected("the client closed the connection")
        kind = event["type"]
        if kind == "http.response.start":
            if self._started is not None:
                raise RuntimeError("http.response.start sent twice")
            self._started = (int(event["status"]), _answer_fields(event.get("headers")) + _given_length(event))
        elif kind == "http.response.body":
            if self._started is None:
                raise RuntimeError("http.response.body before http.response.start")
            body = bytes(event.get("body", b""))
            more = bool(event.get("more_body", False))
            status, headers = self._started
            if not self._head_written and not more and not any(n.lower() == "content-length" for n, _ in headers):
                self._respond_whole(status, headers, body)  # one piece: its length is known
                return
            if not self._head_written:
                self._write_head(status, headers, None)
            if body and self._sends_body(status):
                self.session.transport.write(b"%x\r\n%b\r\n" % (len(body), body) if self._chunked else body)
            if not more:
                if self._chunked:
                    self.session.transport.write(b"0\r\n\r\n")
                self._finished.set()
            elif self.session.writing_paused:
                try:
                    await self.session.drain()
                except (ConnectionClosed, WebSocketDisconnect):
                    raise ClientDisconnected("the client closed the connection") from None
        else:
            raise ValueError(f"unknown ASGI event on an http scope: {kind!r}")

    # Writing the response

    def _sends_body(self, status: int) -> bool:
        return self.request.method != "HEAD" and status >= 200 and status not in (204, 304)

    def _respond_whole(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self._write_head(status, headers, len(body))
        if body and self._sends_body(status):
            self.session.transport.write(body)
        self._finished.set()

    def _write_head(self, status: int, headers: list[tuple[str, str]], length: int | None) -> None:
        self._head_written = True
        fields = [(name, value) for name, value in headers if name.lower() != "content-length"]
        given = next((value for name, value in headers if name.lower() == "content-length"), None)
        if status >= 200 and status not in (204, 304):
            if given is not None:
                fields.append(("Content-Length", given))
            elif length is not None:
                fields.append(("Content-Length", str(length)))
            elif self.request.method != "HEAD":
                fields.append(("Transfer-Encoding", "chunked"))
                self._chunked = True
        if not self.keep_alive:
            fields.append(("Connection", "close"))
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
        lines = [f"HTTP/1.1 {status} {reason}", *(f"{name}: {value}" for name, value in fields)]
        session = self.session
        session.host.answered(session, status)
        session.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def _given_length(event: dict[str, Any]) -> list[tuple[str, str]]:
    """The app's own Content-Length, kept (a streamed response of known length is not chunked)."""
    for name, value in event.get("headers") or ():
        if bytes(name).lower() == b"content-length":
            return [("Content-Length", bytes(value).decode("latin-1").strip())]
    return []

