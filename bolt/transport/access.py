"""The access log: the ``bolt.access`` logger, one line per handshake answered and one per
connection that ends after its 101 (``Settings.access_log``: "off", "text" or "json";
``python -m bolt --access-log text``).

What a line holds, and never more: the client's address, the path (never the query string, which
may carry a token), the status (101, or the refusal's), the authenticated user's id, and at the
end the duration, messages and bytes each way, the close code and who closed. No header, cookie,
token or message content is ever logged.

Text (a timestamp and level come from the logging configuration)::

    127.0.0.1:50312 "GET /ws/room/1" 101 user=alice
    127.0.0.1:50313 "GET /private" 401 user=-
    127.0.0.1:50312 "/ws/room/1" closed 1000 by client after 12.204s in=8/1021B out=9/1180B user=alice

JSON lines (one object a line, for a log pipeline)::

    {"event": "handshake", "client": "127.0.0.1:50312", "method": "GET", "path": "/ws/room/1", "status": 101, "user": "alice"}
    {"event": "closed", "client": "127.0.0.1:50312", "path": "/ws/room/1", "user": "alice", "duration": 12.204,
     "messages_in": 8, "bytes_in": 1021, "messages_out": 9, "bytes_out": 1180, "close_code": 1000, "closed_by": "client"}
"""

from __future__ import annotations

import json
import logging
from typing import Any

logger = logging.getLogger("bolt.access")

FORMATS = ("off", "text", "json")


class AccessLog:
    """Writes the lines; a server makes one unless ``access_log`` is "off"."""

    def __init__(self, format: str = "text") -> None:
        if format not in FORMATS[1:]:
            raise ValueError(f"access_log is one of {', '.join(FORMATS)}, not {format!r}")
        self.json = format == "json"
        if logger.level == logging.NOTSET:
            # Asking for the access log is asking for its lines, whatever level the rest logs at.
            logger.setLevel(logging.INFO)

    def handshake(self, client: tuple[str, int] | None, method: str, path: str, status: int, user: Any) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        if self.json:
            line = {"event": "handshake", "client": _address(client), "method": method, "path": path}
            logger.info(_json({**line, "status": status, "user": user}))
        else:
            logger.info('%s "%s %s" %d user=%s', _address(client), method, _clean(path), status, _user(user))

    def closed(self, client: tuple[str, int] | None, path: str, user: Any, stats: Any) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        code = stats.close_code
        if self.json:
            line = {"event": "closed", "client": _address(client), "path": path, "user": user}
            figures = {
                "duration": round(stats.duration, 3),
                "messages_in": stats.messages_received,
                "bytes_in": stats.bytes_received,
                "messages_out": stats.messages_sent,
                "bytes_out": stats.bytes_sent,
                "close_code": code,
                "closed_by": stats.closed_by,
            }
            logger.info(_json({**line, **figures}))
        else:
            logger.info(
                '%s "%s" closed %s by %s after %.3fs in=%d/%dB out=%d/%dB user=%s',
                _address(client),
                _clean(path),
                code,
                stats.closed_by or "neither (TCP dropped)",
                stats.duration,
                stats.messages_received,
                stats.bytes_received,
                stats.messages_sent,
                stats.bytes_sent,
                _user(user),
            )


def _address(client: tuple[str, int] | None) -> str:
    if client is None:
        return "-"
    host, port = client[0], client[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _user(user: Any) -> str:
    return "-" if user is None else _clean(str(user))


def _clean(text: str) -> str:
    """Quotes, backslashes and anything unprintable escaped, so that a line is one line and its
    fields cannot be forged by what a client put in its request."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return text
    return json.dumps(text, ensure_ascii=True)[1:-1]


def _json(line: dict[str, Any]) -> str:
    return json.dumps(line, separators=(", ", ": "), ensure_ascii=True, default=str)
