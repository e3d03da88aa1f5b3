"""Plain HTTP answers for ``@api.get`` routes: enough for a demo page and a health check.

bolt is not an HTTP framework: a route returns a ``Response``, or a value that becomes one
(``str`` → text/plain, or text/html when it starts with ``<``; ``bytes`` → application/octet-stream;
``dict``/``list`` → JSON).
"""

from __future__ import annotations

import json
from typing import Any


class Response:
    __slots__ = ("body", "status", "headers", "media_type")

    def __init__(
        self,
        body: bytes | str = b"",
        status: int = 200,
        headers: list[tuple[str, str]] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        self.status = status
        self.headers = list(headers or [])
        self.media_type = media_type or "application/octet-stream"

    def header_list(self) -> list[tuple[str, str]]:
        return [("Content-Type", self.media_type), *self.headers]


class PlainTextResponse(Response):
    __slots__ = ()

    def __init__(self, body: str, status: int = 200, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(body, status, headers, "text/plain; charset=utf-8")


class HTMLResponse(Response):
    __slots__ = ()

    def __init__(self, body: str, status: int = 200, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(body, status, headers, "text/html; charset=utf-8")


class JSONResponse(Response):
    __slots__ = ()

    def __init__(self, content: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(json.dumps(content, separators=(",", ":"), ensure_ascii=False), status, headers, "application/json")


def to_response(value: Any) -> Response:
    """Turn what an HTTP route returned into a ``Response``."""
    if isinstance(value, Response):
        return value
    if isinstance(value, str):
        return HTMLResponse(value) if value.lstrip().startswith("<") else PlainTextResponse(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return Response(bytes(value))
    if isinstance(value, (dict, list)):
        return JSONResponse(value)
    if value is None:
        return Response(b"", 204)
    raise TypeError(f"an HTTP route returned {type(value).__name__}; return str, bytes, dict, list or a Response")
