"""Incremental UTF-8 validation of text messages (RFC 6455 §8.1), compiled around ``utf8_kernel.h``.

The twin of ``bolt._pure.utf8``. Valid means RFC 3629: no surrogates, no overlong forms, nothing
past U+10FFFF. ``Utf8Validator.feed`` fails fast: it returns False at the first byte after which no
continuation could be valid, so a connection can close with 1007 while the message is still arriving.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from libc.stdint cimport uint32_t


cdef extern from "utf8_kernel.h":
    ctypedef struct bolt_utf8_state:
        uint32_t state

    void bolt_utf8_reset(bolt_utf8_state *s)
    int bolt_utf8_feed(bolt_utf8_state *s, const unsigned char *p, size_t n)
    int bolt_utf8_complete(const bolt_utf8_state *s)


cdef inline int feed_buffer(bolt_utf8_state *state, object data) except -1:
    """Feed any C-contiguous buffer; TypeError for anything else, as the pure twin raises."""
    cdef Py_buffer view
    cdef int valid
    try:
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    except BufferError as exc:
        raise TypeError(f"expected a C-contiguous buffer: {exc}") from None
    try:
        valid = bolt_utf8_feed(state, <const unsigned char *>view.buf, <size_t>view.len)
    finally:
        PyBuffer_Release(&view)
    return valid


cdef class Utf8Validator:
    """Validates one text message fed in pieces, possibly split inside a character.

    ``feed(data)`` returns True while the bytes seen so far can begin valid UTF-8 and False from the
    first byte that makes that impossible; the error is sticky until ``reset()``. ``complete`` is True
    when the bytes so far are valid and end on a character boundary, which is what a text message's
    final fragment must satisfy.
    """

    cdef bolt_utf8_state state

    def __cinit__(self):
        bolt_utf8_reset(&self.state)

    def feed(self, data) -> bool:
        return feed_buffer(&self.state, data) == 1

    @property
    def complete(self) -> bool:
        return bolt_utf8_complete(&self.state) == 1

    def reset(self) -> None:
        bolt_utf8_reset(&self.state)


def is_valid_utf8(data) -> bool:
    """True when the whole buffer is valid UTF-8 and ends on a character boundary."""
    cdef bolt_utf8_state state
    bolt_utf8_reset(&state)
    return feed_buffer(&state, data) == 1 and bolt_utf8_complete(&state) == 1
