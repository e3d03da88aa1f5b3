"""What the frame parser hands up besides messages: a small object per pong or close frame.

A complete message is handed up as itself, a ``str`` (text) or ``bytes`` (binary), with no object
around it: wrapping each message cost more than parsing it (a Python ``__init__`` and a garbage
collector-tracked object per message; measured in bench/bench_frames.py). A ping is not handed up
at all: the parser writes its pong itself (``take_pongs()``), so a ping flood builds no objects.
Pongs and close frames are rare, and these plain ``__slots__`` classes, shared by both codec
implementations, carry them.
"""

from __future__ import annotations

from typing import Any, TypeAlias


class Event:
    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((type(self), self._fields()))

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({args})"


class Pong(Event):
    """A pong frame (an answer to our ping, or an unsolicited heartbeat, RFC 6455 §5.5.3)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class Close(Event):
    """A close frame. ``code`` is None when the frame had no payload (reported as 1005)."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int | None, reason: str) -> None:
        self.code = code
        self.reason = reason


# What a parser call returns, in order: messages (a ``str`` or ``bytes``) and control frames.
ParsedEvent: TypeAlias = "str | bytes | Pong | Close"
# What a FrameWriter's text() and binary() return: the frames' bytes, or with ``zero_copy`` a large
# message's (header, payload) to write in that order (the compiled twin's payload of an ASCII str is
# a memoryview of its characters).
EncodedMessage: TypeAlias = "bytes | tuple[bytes, bytes | memoryview]"
