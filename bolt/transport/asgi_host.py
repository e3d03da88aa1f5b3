"""bolt's server running any ASGI 3 application (``python -m bolt module:app --asgi``): Starlette's
and FastAPI's WebSocket routes on bolt's transport and codec.

- ``websocket`` scope (spec 2.4): the handshake is checked by bolt first (a request that is no
  valid upgrade gets its 400 or 426 without reaching the app); ``websocket.accept`` with its
  subprotocol and headers, ``websocket.send`` (waiting for the transport to drain when it asks),
  ``websocket.close`` with code and reason (before accepting: 403), and the
  ``websocket.http.response`` extension for a refusal with its own status and body. An app that
  returns without accepting gets 403 sent for it; one that raises, 500 (or 1011 once open).
- ``http`` scope: one request per connection, without a body (a body is refused with 400, as the
  opening handshake's parser does), and the response sent whole when its last body part comes.
  Keep-alive, request bodies and a streamed response are not done yet.
- ``lifespan``: run at startup and shutdown when the app supports it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bolt.close_codes import CloseCode
from bolt.exceptions import ConnectionClosed, HandshakeError, WebSocketDisconnect
from bolt.protocol.connection import State

logger = logging.getLogger("bolt")
ASGI = {"version": "3.0", "spec_version": "2.4"}


class ClientDisconnected(OSError):
    """What ``send`` raises once the connection is gone (ASGI: a subclass of IOError)."""


class AsgiHost:
    """The application bolt's ``Server`` runs for an ASGI app."""

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
            await _HttpExchange(self, session).run()

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


class _HttpExchange:
    def __init__(self, host: AsgiHost, session: Any) -> None:
        self.host = host
        self.session = session
        self.requested = False
        self.start: dict[str, Any] | None = None
        self.body: list[bytes] = []

    async def run(self) -> None:
        try:
            await self.host.app(self.host.scope(self.session, "http"), self.receive, self.send)
        except Exception:
            logger.exception("the ASGI app failed on %s", self.session.request)
            self.session.respond(500, "Internal Server Error")
            return
        if self.start is None:
            self.session.respond(500, "The application sent no response")

    async def receive(self) -> dict[str, Any]:
        if not self.requested:
            self.requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.session.wait_closed()
        return {"type": "http.disconnect"}

    async def send(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "http.response.start":
            self.start = event
        elif kind == "http.response.body":
            if self.start is None:
                raise RuntimeError("http.response.body before http.response.start")
            self.body.append(bytes(event.get("body", b"")))
            if not event.get("more_body", False):
                headers = _answer_fields(self.start.get("headers"))
                self.session.respond(self.start["status"], b"".join(self.body), headers)
        else:
            raise ValueError(f"unknown ASGI event on an http scope: {kind!r}")
