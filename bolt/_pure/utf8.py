"""Incremental UTF-8 validation of text messages (RFC 6455 §8.1), in pure Python.

The twin of ``bolt._speedups.utf8``, with the same behaviour: valid means RFC 3629 (no surrogates,
no overlong forms, nothing past U+10FFFF), and ``Utf8Validator.feed`` fails fast, returning False at
the first byte after which no continuation could be valid.

The work is done by CPython's incremental UTF-8 decoder, which is written in C; the str it builds is
thrown away. It rejects a byte as soon as it cannot continue a sequence, with one exception: on
purpose (``unicodeobject.c``, "Truncated surrogate code in range D800-DFFF") it keeps ``ED A0..BF``
pending as if it could still complete. ``feed`` closes that gap by inspecting the pending bytes.
tests/test_utf8.py checks every 1- and 2-byte sequence and every 3-byte one from E0 to F4, so a
CPython that kept anything else pending would be caught.
"""

from __future__ import annotations

import codecs

_Utf8Decoder = codecs.getincrementaldecoder("utf-8")

# RFC 3629 §4: after ED the second byte is 80..9F; A0..BF would encode a surrogate (D800..DFFF).
_SURROGATE_LEAD = 0xED
_FIRST_SURROGATE_SECOND_BYTE = 0xA0


def _is_truncated_surrogate(pending: bytes) -> bool:
    return len(pending) >= 2 and pending[0] == _SURROGATE_LEAD and pending[1] >= _FIRST_SURROGATE_SECOND_BYTE


class Utf8Validator:
    """Validates one text message fed in pieces, possibly split inside a character.

    ``feed(data)`` returns True while the bytes seen so far can begin valid UTF-8 and False from the
    first byte that makes that impossible; the error is sticky until ``reset()``. ``complete`` is True
    when the bytes so far are valid and end on a character boundary, which is what a text message's
    final fragment must satisfy.
    """

    __slots__ = ("_decoder", "_valid")

    def __init__(self) -> None:
        self._decoder = _Utf8Decoder()
        self._valid = True

    def feed(self, data: bytes | bytearray | memoryview) -> bool:
        if self._valid:
            try:
                self._decoder.decode(data)
            except UnicodeDecodeError:
                self._valid = False
            else:
                self._valid = not _is_truncated_surrogate(self._decoder.getstate()[0])
        return self._valid

    @property
    def complete(self) -> bool:
        return self._valid and not self._decoder.getstate()[0]

    def reset(self) -> None:
        self._decoder.reset()
        self._valid = True


def is_valid_utf8(data: bytes | bytearray | memoryview) -> bool:
    """True when the whole buffer is valid UTF-8 and ends on a character boundary."""
    try:
        str(data, "utf-8")
    except UnicodeDecodeError:
        return False
    return True
