"""A ``BoltAPI`` as an ASGI 3 application: ``uvicorn app:api`` (or hypercorn, granian) serves it
unchanged, and ``Mount("/rt", api)`` puts it inside a Starlette or FastAPI app.

- ``websocket`` scope: the same routing, parameters, Origin check, authentication, guards and
  handler as on bolt's own server, over an ``AsgiSession`` (bolt/transport/asgi_session.py), so a
  handler cannot tell which server runs it. A refusal is an HTTP answer where the server supports
  ``websocket.http.response``, else the 403 the server sends for a close before accepting.
- ``http`` scope: the ``@api.get`` routes (and the metrics route).
- ``lifespan`` scope: ``prepare()`` (a JWT route without a secret fails the startup), the broker,
  and the startup and shutdown hooks.
"""

from __future__ import annotations

import logging
from typing import Any

from bolt.transport.asgi_session import AsgiSession, request_from_scope

logger = logging.getLogger("bolt")


async def serve(api: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
    kind = scope["type"]
    if kind == "websocket":
        await _websocket(api, scope, receive, send)
    elif kind == "http":
        await _http(api, scope, receive, send)
    elif kind == "lifespan":
        await _lifespan(api, receive, send)
    else:
        raise ValueError(f"unknown ASGI scope type {kind!r}")


async def _websocket(api: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
    session = AsgiSession(scope, receive, send, api.settings)
    try:
        if not await session.start():
            return  # the client left before the application saw it
        matches = api.router.match_any(session.request.path)
        match = next((match for match in matches if match[0].kind == "websocket"), None)
        if match is None:
            session.respond(404, "Not Found")
            return
        await api._serve_websocket(session, *match)
    finally:
        await session.finish()


class _HttpExchange:
    """What ``BoltAPI._serve_http`` needs of a session: the request, and where its answer goes."""

    def __init__(self, scope: dict[str, Any]) -> None:
        self.request = request_from_scope(scope)
        self.answer: tuple[int, bytes, list[tuple[str, str]]] = (500, b"", [])

    def respond(self, status: int, body: bytes | str = b"", headers: Any = ()) -> None:
        self.answer = (status, body.encode("utf-8") if isinstance(body, str) else bytes(body), list(headers))


async def _http(api: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
    exchange = _HttpExchange(scope)
    request = exchange.request
    matches = api.router.match_any(request.path)
    http_match = next(
        (match for match in matches if match[0].kind == "http" and request.method in match[0].methods), None
    )
    if http_match is not None:
        await api._serve_http(exchange, *http_match)
    elif any(route.kind == "http" for route, _ in matches):
        allowed = sorted({method for route, _ in matches if route.kind == "http" for method in route.methods})
        exchange.respond(405, "Method Not Allowed", [("Allow", ", ".join(allowed))])
    elif matches:
        exchange.respond(426, "Upgrade Required", [("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")])
    else:
        exchange.respond(404, "Not Found")
    status, body, headers = exchange.answer
    fields = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    if not any(name == b"content-type" for name, _ in fields):
        fields.append((b"content-type", b"text/plain; charset=utf-8"))
    fields.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": fields})
    await send({"type": "http.response.body", "body": b"" if request.method == "HEAD" else body})


async def _lifespan(api: Any, receive: Any, send: Any) -> None:
    while True:
        event = await receive()
        if event["type"] == "lifespan.startup":
            try:
                api.prepare()
                await api.startup()
            except Exception as error:
                logger.exception("startup failed")
                await send({"type": "lifespan.startup.failed", "message": str(error)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif event["type"] == "lifespan.shutdown":
            await api.shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return
