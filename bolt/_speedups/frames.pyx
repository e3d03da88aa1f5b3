# cython: language_level=3
"""The frame parser and writer (RFC 6455 §5), compiled: the twin of ``bolt/_pure/frames.py``.

Same state, same rules in the same order, same errors and reasons as the pure module; read that
module's docstrings for the why. Here the buffer is read through a C pointer, payloads are unmasked
and validated by the C kernels in ``mask_kernel.h`` and ``utf8_kernel.h``, and a message is decoded
straight from the buffer into its ``str`` or ``bytes`` with one copy. A ping's pong is written in C
straight into the pending replies, with no Python object per ping. Arguments of any type but exact
``bytes``, ``bytearray`` and ``str``, checked here in C first, go through ``bolt._coerce``, the
coercion step both twins share.
"""

import operator
import os

cimport cython

from cpython.bytearray cimport (
    PyByteArray_AS_STRING, PyByteArray_FromStringAndSize, PyByteArray_GET_SIZE, PyByteArray_Resize)
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_FillInfo, PyBuffer_Release, PyObject_GetBuffer
from cpython.unicode cimport PyUnicode_AsUTF8String, PyUnicode_DecodeUTF8
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memmove

from bolt._coerce import as_bytes, as_str, byte_view, close_payload, size_limit
from bolt.close_codes import is_valid_close_code
from bolt.events import Close, Pong
from bolt.exceptions import InvalidState, InvalidUTF8, MessageTooBig, ProtocolError


cdef extern from "Python.h":
    object PyMemoryView_FromMemory(char *mem, Py_ssize_t size, int flags)
    int PyBUF_READ
    int PyBUF_WRITE
    bint PyUnicode_IS_ASCII(object)
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void *PyUnicode_DATA(object)
    const char *PyUnicode_AsUTF8AndSize(object, Py_ssize_t *) except NULL


cdef extern from "mask_kernel.h":
    void bolt_mask_inplace(unsigned char *data, size_t n, const unsigned char *key, size_t phase) nogil
    void bolt_mask_copy(unsigned char *dst, const unsigned char *src, size_t n,
                        const unsigned char *key, size_t phase) nogil


cdef extern from "utf8_kernel.h":
    ctypedef struct bolt_utf8_state:
        pass
    void bolt_utf8_reset(bolt_utf8_state *s) nogil
    int bolt_utf8_feed(bolt_utf8_state *s, const unsigned char *p, size_t n) nogil
    int bolt_utf8_complete(const bolt_utf8_state *s) nogil
    const unsigned char *bolt_utf8_skip_ascii(const unsigned char *p, const unsigned char *end) nogil


cdef extern from "text_kernel.h":
    void bolt_text_measure(const unsigned char *p, size_t n, size_t *chars, unsigned char *largest) nogil
    uint32_t bolt_text_maxchar(unsigned char largest) nogil
    size_t bolt_text_copy_ascii(unsigned char *dst, const unsigned char *src, size_t n) nogil
    void bolt_text_decode_1(const unsigned char *p, size_t n, uint8_t *out) nogil
    void bolt_text_decode_2(const unsigned char *p, size_t n, uint16_t *out) nogil
    void bolt_text_decode_4(const unsigned char *p, size_t n, uint32_t *out) nogil
    int bolt_text_decode_checked_1(const unsigned char *p, size_t n, uint8_t *out) nogil
    int bolt_text_decode_checked_2(const unsigned char *p, size_t n, uint16_t *out) nogil
    int bolt_text_decode_checked_4(const unsigned char *p, size_t n, uint32_t *out) nogil
    Py_ssize_t bolt_text_size_1(const uint8_t *s, size_t n) nogil
    Py_ssize_t bolt_text_size_2(const uint16_t *s, size_t n) nogil
    Py_ssize_t bolt_text_size_4(const uint32_t *s, size_t n) nogil
    void bolt_text_encode_1(const uint8_t *s, size_t n, unsigned char *out) nogil
    void bolt_text_encode_2(const uint16_t *s, size_t n, unsigned char *out) nogil
    void bolt_text_encode_4(const uint32_t *s, size_t n, unsigned char *out) nogil


cdef extern from "Python.h":
    int PyUnicode_KIND(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    int PyUnicode_1BYTE_KIND
    int PyUnicode_2BYTE_KIND
    Py_UCS4 PyUnicode_READ_CHAR(object, Py_ssize_t)
    object PyUnicode_FromOrdinal(int)


cdef enum:
    OP_CONTINUATION = 0x0
    OP_TEXT = 0x1
    OP_BINARY = 0x2
    OP_CLOSE = 0x8
    OP_PING = 0x9
    OP_PONG = 0xA
    MAX_CONTROL_PAYLOAD = 125
    MASK_POOL_SIZE = 4096

DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024
cdef Py_ssize_t INITIAL_BUFFER_SIZE = 4 * 1024
cdef Py_ssize_t MIN_READ_SIZE = 4 * 1024
cdef Py_ssize_t MAX_READ_SIZE = 256 * 1024
cdef Py_ssize_t SHRINK_ABOVE = 1024 * 1024
cdef long long LARGE_FRAME = 64 * 1024
# See bolt._pure.frames.DIRECT_SIZE.
cdef long long DIRECT_SIZE = 64 * 1024
cdef long long DIRECT_MAX = 16 * 1024 * 1024
# See bolt._pure.frames.ZERO_COPY_SIZE.
cdef Py_ssize_t ZERO_COPY_SIZE = 64 * 1024
# See bolt._pure.frames.INFLATE_BUDGET.
cdef long long INFLATE_BUDGET = 1024 * 1024


@cython.final
cdef class _MaskKeys:
    """Masking keys for the frames this end sends (§5.3), 4 bytes at a time from a pool that one
    ``os.urandom`` call fills: the keys stay unpredictable (§10.3) with no system call per frame."""

    cdef bytes _pool
    cdef Py_ssize_t _pos

    def __cinit__(self):
        self._pool = b""
        self._pos = MASK_POOL_SIZE

    cdef inline const unsigned char *next(self) except NULL:
        if self._pos + 4 > MASK_POOL_SIZE:
            self._refill()
        self._pos += 4
        return <const unsigned char *>PyBytes_AS_STRING(self._pool) + self._pos - 4

    cdef int _refill(self) except -1:
        # Apart from next(), so that the C compiler inlines the common path into each caller.
        self._pool = os.urandom(MASK_POOL_SIZE)
        self._pos = 0
        return 0


cdef class FrameParser:
    """Turns the bytes a peer sends into events: ``str`` and ``bytes`` messages, ``Pong`` and
    ``Close``; pings are answered into ``take_pongs()`` (see ``bolt._pure.frames.FrameParser``)."""

    cdef bint _expect_masked
    cdef long long _max_message
    cdef long long _max_frame
    cdef object _inflater
    cdef bytearray _buf
    cdef Py_ssize_t _start
    cdef Py_ssize_t _end
    cdef Py_ssize_t _read_size
    cdef Py_ssize_t _offered
    cdef long long _last_length
    cdef bint _in_frame
    cdef bint _fin
    cdef int _opcode
    cdef bint _masked
    cdef unsigned char _key[4]
    cdef long long _length
    cdef Py_ssize_t _payload_start
    cdef long long _unmasked
    cdef long long _validated
    cdef object _direct
    cdef unsigned char *_direct_data
    cdef bint _direct_ascii
    cdef Py_ssize_t _filled
    cdef int _message_opcode
    cdef bint _message_compressed
    cdef long long _message_size
    cdef bytearray _fragments
    cdef bolt_utf8_state _utf8
    cdef object _error
    cdef bint _closed
    cdef bytearray _pongs
    cdef _MaskKeys _keys
    cdef readonly int control_frames
    cdef readonly bint more
    cdef long long _inflated
    cdef readonly long long pings_received
    # Messages returned, and their size in bytes (a text message's UTF-8, after inflating).
    cdef readonly long long text_received
    cdef readonly long long text_bytes_received
    cdef readonly long long binary_received
    cdef readonly long long binary_bytes_received

    def __init__(self, *, bint client=False, max_message_size=DEFAULT_MAX_MESSAGE_SIZE,
                 max_frame_size=None, inflater=None):
        self._expect_masked = not client
        self._max_message = size_limit(max_message_size, "max_message_size")
        self._max_frame = size_limit(max_frame_size, "max_frame_size")
        self._inflater = inflater
        self._buf = bytearray()  # allocated at the first read (see bolt._pure.frames)
        self._start = 0
        self._end = 0
        self._read_size = MIN_READ_SIZE
        self._offered = 0
        self._last_length = 0
        self._in_frame = False
        self._message_opcode = 0
        self._message_compressed = False
        self._message_size = 0
        self._fragments = bytearray()
        bolt_utf8_reset(&self._utf8)
        self._error = None
        self._closed = False
        self._pongs = bytearray()
        self._keys = _MaskKeys()
        self.control_frames = 0
        self.pings_received = 0
        self.text_received = 0
        self.text_bytes_received = 0
        self.binary_received = 0
        self.binary_bytes_received = 0

    # Input

    def feed(self, data):
        """Append ``data`` (any bytes-like object) and return the events it completed."""
        cdef Py_buffer view
        if type(data) is not bytes and type(data) is not bytearray:
            data = byte_view(data, "feed() data")
        if self._direct is not None and self._error is None:
            return self._feed_direct(data)
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            self._make_room(view.len)
            memcpy(PyByteArray_AS_STRING(self._buf) + self._end, view.buf, view.len)
            self._end += view.len
        finally:
            PyBuffer_Release(&view)
        return self._parse()

    def get_buffer(self, sizehint=-1):
        """A writable view of the buffer's free space, for ``BufferedProtocol.get_buffer``
        (``sizehint`` is not a minimum: see the pure twin)."""
        cdef Py_ssize_t wanted = self._read_size
        cdef long long rest
        if self._direct is not None:
            self._offered = <Py_ssize_t>min(self._length - self._filled, <long long>MAX_READ_SIZE)
            return PyMemoryView_FromMemory(<char *>self._direct_data + self._filled, self._offered, PyBUF_WRITE)
        if self._in_frame:
            # Room for the rest of the frame, but never more at once than the largest read: the
            # buffer grows with the bytes that arrive, not with the length a header announces.
            # What is missing of the frame, computed so that a length near 2**63 cannot overflow.
            rest = min(self._length - (self._end - self._payload_start), <long long>MAX_READ_SIZE)
            if rest > wanted:
                wanted = <Py_ssize_t>rest
        self._make_room(wanted)
        self._offered = PyByteArray_GET_SIZE(self._buf) - self._end
        return memoryview(self._buf)[self._end:]

    def buffer_updated(self, Py_ssize_t nbytes):
        """``nbytes`` were written at the start of the last ``get_buffer`` view; return the events."""
        if self._direct is not None:
            if nbytes < 0 or nbytes > self._offered:
                raise ValueError(f"buffer_updated({nbytes}) is outside the buffer handed out")
            return self._received_direct(nbytes)
        if nbytes < 0 or self._end + nbytes > PyByteArray_GET_SIZE(self._buf):
            raise ValueError(f"buffer_updated({nbytes}) is outside the buffer handed out")
        if nbytes == self._offered and self._read_size < MAX_READ_SIZE:
            self._read_size = min(2 * max(self._read_size, nbytes), MAX_READ_SIZE)
        self._end += nbytes
        return self._parse()

    def trim(self):
        """Give the buffer back if nothing is buffered: for connections gone quiet (the next read
        allocates it again)."""
        if (self._start == self._end and PyByteArray_GET_SIZE(self._fragments) == 0
                and self._direct is None and PyByteArray_GET_SIZE(self._buf) > 0):
            self._start = 0
            self._end = 0
            self._buf = bytearray()
            self._read_size = MIN_READ_SIZE

    @property
    def buffered(self):
        """Bytes received and not yet returned as events (a partial frame or message)."""
        return self._end - self._start + PyByteArray_GET_SIZE(self._fragments) + self._filled

    def take_pongs(self):
        """The pong frames owed for every ping parsed since the last call, in order; b"" if none."""
        cdef Py_ssize_t size = PyByteArray_GET_SIZE(self._pongs)
        if size == 0:
            return b""
        cdef bytes pongs = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(self._pongs), size)
        PyByteArray_Resize(self._pongs, 0)
        return pongs

    cdef int _make_room(self, Py_ssize_t size) except -1:
        cdef Py_ssize_t capacity = PyByteArray_GET_SIZE(self._buf)
        if self._start == self._end:
            self._start = 0
            self._end = 0
            if (capacity > SHRINK_ABOVE and PyByteArray_GET_SIZE(self._fragments) == 0
                    and self._last_length < LARGE_FRAME):
                self._buf = bytearray(INITIAL_BUFFER_SIZE)
                capacity = INITIAL_BUFFER_SIZE
        cdef Py_ssize_t free = capacity - self._end
        if free >= size:
            return 0
        if self._start:
            self._rebase()
            free = capacity - self._end
            if free >= size:
                return 0
        # A new buffer, not a resize: a transport may still hold its view of the last read
        # (aiofastnet keeps it until the next get_buffer() returns), and a bytearray that has a
        # view cannot be resized.
        cdef bytearray grown = PyByteArray_FromStringAndSize(NULL, capacity + max(size - free, capacity))
        memcpy(PyByteArray_AS_STRING(grown), PyByteArray_AS_STRING(self._buf), self._end)
        self._buf = grown
        return 0

    cdef void _rebase(self) noexcept:
        cdef char *buf = PyByteArray_AS_STRING(self._buf)
        cdef Py_ssize_t start = self._start
        if self._end > start:
            memmove(buf, buf + start, self._end - start)
        self._end -= start
        self._payload_start -= start
        self._start = 0

    # Parsing

    cdef list _parse(self):
        if self._error is not None:
            raise InvalidState(f"the frame stream already failed: {self._error.reason}")
        cdef list events = []
        self.control_frames = 0
        self.more = False
        self._inflated = 0
        if self._closed:
            self._start = 0
            self._end = 0
            return events
        try:
            while not self._closed and self._next_frame(events):
                if self._inflated > INFLATE_BUDGET:
                    self.more = self._start < self._end
                    break
        except ProtocolError as error:
            self._error = error
            error.events = events
            raise
        if self._start == self._end:
            self._start = 0
            self._end = 0
        return events

    cdef bint _next_frame(self, list events) except -1:
        if not self._in_frame and not self._read_header():
            return False
        cdef Py_ssize_t start = self._payload_start
        cdef Py_ssize_t arrived = self._end - start
        if arrived < self._length:
            if (DIRECT_SIZE <= self._length <= DIRECT_MAX and self._fin and not self._message_compressed
                    and (self._opcode == OP_TEXT or self._opcode == OP_BINARY)):
                self._start_direct(arrived)
            else:
                self._advance_partial(arrived)
            return False
        cdef Py_ssize_t length = <Py_ssize_t>self._length
        self._unmask(length)
        self._start = start + length
        self._last_length = length
        self._in_frame = False
        cdef unsigned char *payload = <unsigned char *>PyByteArray_AS_STRING(self._buf) + start
        cdef int opcode = self._opcode
        if opcode >= OP_CLOSE:
            return self._control_frame(opcode, payload, length, events)
        if self._fin and PyByteArray_GET_SIZE(self._fragments) == 0:
            events.append(self._whole_message(payload, length))
            return True
        cdef Py_ssize_t have
        if self._message_compressed:
            # A fragment of a compressed message is inflated as it comes (RFC 7692 §7.2.2), so its
            # text is validated, and its size checked, before the rest arrives.
            self._add_inflated(self._inflate(payload, length, self._room()))
        else:
            if self._validates_text() and not bolt_utf8_feed(
                    &self._utf8, payload + self._validated, <size_t>(length - self._validated)):
                raise InvalidUTF8("invalid UTF-8 in a text message")
            have = PyByteArray_GET_SIZE(self._fragments)
            PyByteArray_Resize(self._fragments, have + length)
            memcpy(PyByteArray_AS_STRING(self._fragments) + have, payload, length)
        if self._fin:
            events.append(self._assembled_message())
        return True

    cdef bint _read_header(self) except -1:
        cdef const unsigned char *buf = <const unsigned char *>PyByteArray_AS_STRING(self._buf)
        cdef Py_ssize_t pos = self._start
        cdef Py_ssize_t available = self._end - pos
        if available < 2:
            return False
        cdef unsigned char first = buf[pos]
        cdef unsigned char second = buf[pos + 1]
        cdef bint fin = (first & 0x80) != 0
        cdef int rsv = first & 0x70
        cdef int opcode = first & 0x0F
        cdef bint masked = (second & 0x80) != 0
        cdef uint64_t length = second & 0x7F
        if opcode >= OP_CLOSE:
            if opcode > OP_PONG:
                raise ProtocolError(f"reserved opcode {opcode:#x}")  # §5.2
            if not fin:
                raise ProtocolError("fragmented control frame")  # §5.5
            if length > MAX_CONTROL_PAYLOAD:
                raise ProtocolError("control frame payload over 125 bytes")  # §5.5
            if rsv:
                raise ProtocolError("reserved bits set on a control frame")  # §5.2, RFC 7692 §6
            if opcode == OP_CLOSE and length == 1:
                raise ProtocolError("close frame with a 1-byte payload")  # §5.5.1
        else:
            if opcode > OP_BINARY:
                raise ProtocolError(f"reserved opcode {opcode:#x}")  # §5.2
            if opcode == OP_CONTINUATION:
                if not self._message_opcode:
                    raise ProtocolError("continuation frame with no message to continue")  # §5.4
                if rsv:
                    raise ProtocolError("reserved bits set on a continuation frame")  # RFC 7692 §6.1
            else:
                if self._message_opcode:
                    raise ProtocolError("new data frame inside a fragmented message")  # §5.4
                if rsv and (rsv != 0x40 or self._inflater is None):
                    raise ProtocolError("reserved bits set without a negotiated extension")  # §5.2
        if masked != self._expect_masked:
            # §5.1: a server closes on an unmasked frame, a client on a masked one.
            raise ProtocolError(
                "unmasked frame from a client" if self._expect_masked else "masked frame from a server")

        cdef Py_ssize_t header_size = 2 + (4 if masked else 0) + (
            2 if length == 126 else 8 if length == 127 else 0)
        if available < header_size:
            return False
        pos += 2
        cdef int i
        if length == 126:
            length = (<uint64_t>buf[pos] << 8) | buf[pos + 1]
            pos += 2
        elif length == 127:
            length = 0
            for i in range(8):
                length = (length << 8) | buf[pos + i]
            if length >> 63:
                raise ProtocolError("64-bit payload length with the most significant bit set")  # §5.2
            pos += 8
        if self._max_frame >= 0 and length > <uint64_t>self._max_frame:
            raise MessageTooBig(f"frame of {length} bytes is over the limit of {self._max_frame}")
        cdef long long limit, extra
        if opcode < OP_CLOSE:
            limit = self._max_message
            if limit >= 0 and (rsv != 0 if opcode != OP_CONTINUATION else self._message_compressed):
                # See bolt._pure.frames._compressed_limit; capped at 2**63 - 1, as sizes are.
                extra = limit // 8 + 1024
                limit = limit + extra if limit <= 0x7FFFFFFFFFFFFFFF - extra else 0x7FFFFFFFFFFFFFFF
            if limit >= 0 and <uint64_t>self._message_size + length > <uint64_t>limit:
                raise MessageTooBig(
                    f"message of {<uint64_t>self._message_size + length} bytes or more is over the limit "
                    f"of {self._max_message}")
            if opcode != OP_CONTINUATION:
                self._message_opcode = opcode
                self._message_compressed = rsv != 0
            self._message_size += <long long>length
        self._masked = masked
        if masked:
            memcpy(self._key, buf + pos, 4)
            pos += 4
        self._fin = fin
        self._opcode = opcode
        self._length = <long long>length
        self._payload_start = pos
        self._unmasked = 0
        self._validated = 0
        self._in_frame = True
        return True

    cdef bint _control_frame(self, int opcode, const unsigned char *payload, Py_ssize_t length,
                             list events) except -1:
        # Apart from _next_frame, whose data frame path it would slow (by 3% for 2-byte frames).
        self.control_frames += 1
        if opcode == OP_PING:
            self.pings_received += 1
            self._queue_pong(payload, length)
        elif opcode == OP_PONG:
            events.append(Pong(PyBytes_FromStringAndSize(<const char *>payload, length)))
        else:
            events.append(self._close_event(PyBytes_FromStringAndSize(<const char *>payload, length)))
            self._closed = True
        return True

    cdef int _queue_pong(self, const unsigned char *payload, Py_ssize_t length) except -1:
        # §5.5.2: a pong carries its ping's payload. §5.5.3 would allow answering only the latest
        # ping, but a peer waiting for the pong of one particular ping (matched by its payload)
        # would wait for ever: one pong per ping, in order, is right for every peer. A client
        # masks the pong like every frame it sends (§5.3).
        cdef const unsigned char *key = NULL
        if not self._expect_masked:
            key = self._keys.next()
        cdef Py_ssize_t have = PyByteArray_GET_SIZE(self._pongs)
        PyByteArray_Resize(self._pongs, have + _frame_size(length, key != NULL))
        _write_frame(<unsigned char *>PyByteArray_AS_STRING(self._pongs) + have, OP_PONG,
                     <const char *>payload, length, True, False, key)
        return 0

    cdef inline bint _validates_text(self) noexcept:
        return self._message_opcode == OP_TEXT and not self._message_compressed

    cdef inline void _unmask(self, long long upto) noexcept:
        cdef unsigned char *payload
        if self._masked and upto > self._unmasked:
            payload = <unsigned char *>PyByteArray_AS_STRING(self._buf) + self._payload_start
            bolt_mask_inplace(payload + self._unmasked, <size_t>(upto - self._unmasked), self._key,
                              <size_t>self._unmasked)
        self._unmasked = upto

    cdef int _advance_partial(self, Py_ssize_t arrived) except -1:
        if self._opcode >= OP_CLOSE or arrived <= self._unmasked:
            return 0
        self._unmask(arrived)
        cdef const unsigned char *payload
        if self._validates_text():
            payload = <const unsigned char *>PyByteArray_AS_STRING(self._buf) + self._payload_start
            if not bolt_utf8_feed(&self._utf8, payload + self._validated, <size_t>(arrived - self._validated)):
                raise InvalidUTF8("invalid UTF-8 in a text message")
            self._validated = arrived
        return 0

    # A frame received directly (see bolt._pure.frames.DIRECT_SIZE)

    cdef int _start_direct(self, Py_ssize_t arrived) except -1:
        # The object is filled in place before anyone else sees it: the read views handed out by
        # get_buffer() are released by the loop before buffer_updated() returns the message. Text
        # is received into a str of ASCII characters: if it is all ASCII, that str is the message
        # (CPython fills a new str this way too); if not, it is decoded from there once complete.
        cdef Py_ssize_t length = <Py_ssize_t>self._length
        if self._message_opcode == OP_TEXT:
            self._direct = PyUnicode_New(length, 127)
            self._direct_data = <unsigned char *>PyUnicode_DATA(self._direct)
        else:
            self._direct = PyBytes_FromStringAndSize(NULL, length)
            self._direct_data = <unsigned char *>PyBytes_AS_STRING(self._direct)
        self._direct_ascii = True
        memcpy(self._direct_data, PyByteArray_AS_STRING(self._buf) + self._payload_start, arrived)
        self._filled = 0
        self._start = 0
        self._end = 0
        self._fill_direct(arrived)
        return 0

    cdef int _fill_direct(self, Py_ssize_t nbytes) except -1:
        cdef unsigned char *data = self._direct_data + self._filled
        if self._masked:
            bolt_mask_inplace(data, <size_t>nbytes, self._key, <size_t>self._filled)
        if self._message_opcode == OP_TEXT:
            if self._direct_ascii and bolt_utf8_skip_ascii(data, data + nbytes) == data + nbytes:
                pass  # all ASCII so far: valid UTF-8, and the str is already right
            else:
                self._direct_ascii = False
                if not bolt_utf8_feed(&self._utf8, data, <size_t>nbytes):
                    raise InvalidUTF8("invalid UTF-8 in a text message")
        self._filled += nbytes
        return 0

    cdef list _received_direct(self, Py_ssize_t nbytes):
        if self._error is not None:
            raise InvalidState(f"the frame stream already failed: {self._error.reason}")
        self.control_frames = 0
        self.more = False
        cdef int opcode
        try:
            self._fill_direct(nbytes)
            if self._filled < self._length:
                return []
            payload = self._direct
            self._direct = None
            self._filled = 0
            self._in_frame = False
            self._last_length = self._length
            opcode = self._message_opcode
            complete = bolt_utf8_complete(&self._utf8)
            self._end_message()
            if opcode == OP_TEXT and not self._direct_ascii:
                if not complete:
                    raise InvalidUTF8("invalid UTF-8 in a text message")
                # Validated read by read: only the conversion is left.
                payload = _text(self._direct_data, <size_t>self._length)
            self._count(opcode, self._length)
            return [payload]
        except ProtocolError as error:
            self._error = error
            error.events = []
            raise

    cdef list _feed_direct(self, data):
        cdef Py_buffer view
        cdef Py_ssize_t taken
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            taken = <Py_ssize_t>min(<long long>view.len, self._length - self._filled)
            memcpy(self._direct_data + self._filled, view.buf, taken)
        finally:
            PyBuffer_Release(&view)
        cdef list events = self._received_direct(taken)
        if taken < len(data):
            events += self.feed(memoryview(data)[taken:])
        return events

    cdef object _whole_message(self, const unsigned char *payload, Py_ssize_t length):
        cdef int opcode = self._message_opcode
        cdef bint compressed = self._message_compressed
        self._end_message()
        cdef long long room
        cdef bytes data
        if compressed:
            room = self._room()
            data = self._inflate(payload, length, room)
            rest = self._inflater.finish(room - PyBytes_GET_SIZE(data) if room >= 0 else -1)
            if rest:
                data += rest
            self._inflated += PyBytes_GET_SIZE(data)
            length = PyBytes_GET_SIZE(data)
            if opcode == OP_TEXT:
                message = _decode(PyBytes_AS_STRING(data), length, "invalid UTF-8 in a text message")
            else:
                message = data
        elif opcode == OP_TEXT:
            message = _decode(<const char *>payload, length, "invalid UTF-8 in a text message")
        else:
            message = PyBytes_FromStringAndSize(<const char *>payload, length)
        self._count(opcode, length)
        return message

    cdef object _assembled_message(self):
        if self._message_compressed:
            self._add_inflated(self._inflater.finish(self._room()))
            self._inflated += PyByteArray_GET_SIZE(self._fragments)
        cdef bytearray fragments = self._fragments
        cdef int opcode = self._message_opcode
        cdef bint complete = bolt_utf8_complete(&self._utf8)
        cdef Py_ssize_t size = PyByteArray_GET_SIZE(fragments)
        self._end_message()
        if opcode == OP_BINARY:
            message = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(fragments), size)
        elif not complete:
            raise InvalidUTF8("text message ends inside a UTF-8 sequence")
        else:
            # Validated fragment by fragment (or as inflated): only the conversion is left.
            message = _text(<const unsigned char *>PyByteArray_AS_STRING(fragments), <size_t>size)
        self._count(opcode, size)
        return message

    cdef inline void _count(self, int opcode, long long size) noexcept:
        if opcode == OP_TEXT:
            self.text_received += 1
            self.text_bytes_received += size
        else:
            self.binary_received += 1
            self.binary_bytes_received += size

    cdef void _end_message(self):
        self._message_opcode = 0
        self._message_compressed = False
        self._message_size = 0
        if PyByteArray_GET_SIZE(self._fragments):
            self._fragments = bytearray()
        bolt_utf8_reset(&self._utf8)

    cdef bytes _inflate(self, const unsigned char *payload, Py_ssize_t length, long long room):
        # zlib reads the payload where it lies in the receive buffer, through a view that is
        # released before returning, so that nothing can touch that memory once it moves.
        view = PyMemoryView_FromMemory(<char *>payload, length, PyBUF_READ)
        try:
            return self._inflater.inflate(view, room)
        finally:
            view.release()

    cdef long long _room(self):
        """How many more bytes the message being inflated may grow by (-1: no limit)."""
        if self._max_message < 0:
            return -1
        return self._max_message - PyByteArray_GET_SIZE(self._fragments)

    cdef int _add_inflated(self, bytes data) except -1:
        cdef Py_ssize_t size = PyBytes_GET_SIZE(data)
        if self._message_opcode == OP_TEXT and not bolt_utf8_feed(
                &self._utf8, <const unsigned char *>PyBytes_AS_STRING(data), <size_t>size):
            raise InvalidUTF8("invalid UTF-8 in a text message")
        cdef Py_ssize_t have = PyByteArray_GET_SIZE(self._fragments)
        PyByteArray_Resize(self._fragments, have + size)
        memcpy(PyByteArray_AS_STRING(self._fragments) + have, PyBytes_AS_STRING(data), size)
        return 0

    cdef object _close_event(self, bytes payload):
        cdef Py_ssize_t size = len(payload)
        if size == 0:
            return Close(None, "")
        cdef const unsigned char *data = <const unsigned char *>PyBytes_AS_STRING(payload)
        cdef int code = (data[0] << 8) | data[1]
        if not is_valid_close_code(code):
            raise ProtocolError(f"invalid close code {code}")  # §7.4
        return Close(code, _decode(<const char *>data + 2, size - 2, "invalid UTF-8 in a close reason"))


cdef str _decode(const char *data, Py_ssize_t length, str problem):
    """UTF-8 that has not been validated yet, as a str; InvalidUTF8(problem) if it is not UTF-8."""
    cdef size_t chars
    cdef unsigned char largest
    cdef const unsigned char *utf8 = <const unsigned char *>data
    cdef size_t size = <size_t>length
    # Most text is ASCII: copy it into an ASCII str while checking it, in one pass.
    cdef str text = PyUnicode_New(length, 127)
    cdef size_t ascii = bolt_text_copy_ascii(<unsigned char *>PyUnicode_DATA(text), utf8, size)
    if ascii == size:
        return _shared_if_one(text, size)
    bolt_text_measure(utf8 + ascii, size - ascii, &chars, &largest)
    chars += ascii
    cdef uint32_t maxchar = bolt_text_maxchar(largest)
    text = PyUnicode_New(<Py_ssize_t>chars, maxchar)
    cdef void *out = PyUnicode_DATA(text)
    cdef int valid
    if maxchar == 0xFF:
        valid = bolt_text_decode_checked_1(utf8, size, <uint8_t *>out)
    elif maxchar == 0xFFFF:
        valid = bolt_text_decode_checked_2(utf8, size, <uint16_t *>out)
    else:
        valid = bolt_text_decode_checked_4(utf8, size, <uint32_t *>out)
    if not valid:
        raise InvalidUTF8(problem)  # the half-filled str is dropped unseen
    return _shared_if_one(text, chars)


cdef inline str _text(const unsigned char *data, size_t length):
    """Valid UTF-8 as a str (see text_kernel.h)."""
    cdef size_t chars
    cdef unsigned char largest
    bolt_text_measure(data, length, &chars, &largest)
    return _new_text(data, length, chars, largest)


cdef str _new_text(const unsigned char *data, size_t length, size_t chars, unsigned char largest):
    # Built in its narrowest width, as every str must be (PEP 393); filled before anyone sees it.
    cdef uint32_t maxchar = bolt_text_maxchar(largest)
    cdef str text = PyUnicode_New(<Py_ssize_t>chars, maxchar)
    cdef void *out = PyUnicode_DATA(text)
    if maxchar == 0x7F:
        memcpy(out, data, length)
    elif maxchar == 0xFF:
        bolt_text_decode_1(data, length, <uint8_t *>out)
    elif maxchar == 0xFFFF:
        bolt_text_decode_2(data, length, <uint16_t *>out)
    else:
        bolt_text_decode_4(data, length, <uint32_t *>out)
    return _shared_if_one(text, chars)


cdef inline str _shared_if_one(str text, size_t chars):
    """One Latin-1 character is CPython's shared str for it, as its decoder returns (from 3.12 a
    static object that also holds its UTF-8): the same object, and the same size, as Python's."""
    if chars == 1 and PyUnicode_READ_CHAR(text, 0) < 256:
        return PyUnicode_FromOrdinal(<int>PyUnicode_READ_CHAR(text, 0))
    return text


cdef Py_ssize_t _utf8_size(str text):
    """The UTF-8 size of a str that is not ASCII; -1 if it holds a lone surrogate."""
    cdef int kind = PyUnicode_KIND(text)
    cdef size_t n = <size_t>PyUnicode_GET_LENGTH(text)
    cdef void *data = PyUnicode_DATA(text)
    if kind == PyUnicode_1BYTE_KIND:
        return bolt_text_size_1(<const uint8_t *>data, n)
    if kind == PyUnicode_2BYTE_KIND:
        return bolt_text_size_2(<const uint16_t *>data, n)
    return bolt_text_size_4(<const uint32_t *>data, n)


cdef void _utf8_encode(str text, unsigned char *out) noexcept:
    """Write a str that is not ASCII and has no lone surrogate as UTF-8 at out (_utf8_size bytes)."""
    cdef int kind = PyUnicode_KIND(text)
    cdef size_t n = <size_t>PyUnicode_GET_LENGTH(text)
    cdef void *data = PyUnicode_DATA(text)
    if kind == PyUnicode_1BYTE_KIND:
        bolt_text_encode_1(<const uint8_t *>data, n, out)
    elif kind == PyUnicode_2BYTE_KIND:
        bolt_text_encode_2(<const uint16_t *>data, n, out)
    else:
        bolt_text_encode_4(<const uint32_t *>data, n, out)


cdef bytes _utf8(str text, Py_ssize_t size):
    cdef bytes encoded = PyBytes_FromStringAndSize(NULL, size)
    _utf8_encode(text, <unsigned char *>PyBytes_AS_STRING(encoded))
    return encoded


cdef class FrameWriter:
    """Builds frames to send (see ``bolt._pure.frames.FrameWriter``)."""

    cdef bint _client
    cdef bint _zero_copy
    cdef long long _fragment_size
    cdef object _deflater
    cdef Py_ssize_t _min_size
    cdef _MaskKeys _keys
    # Messages framed, and their size in bytes before compressing (a text message's UTF-8).
    cdef readonly long long text_sent
    cdef readonly long long text_bytes_sent
    cdef readonly long long binary_sent
    cdef readonly long long binary_bytes_sent

    def __init__(self, *, bint client=False, fragment_size=None, deflater=None, bint zero_copy=False):
        self.text_sent = self.text_bytes_sent = self.binary_sent = self.binary_bytes_sent = 0
        self._fragment_size = size_limit(fragment_size, "fragment_size", 1)
        self._client = client
        self._zero_copy = zero_copy and not client
        self._deflater = deflater
        self._min_size = deflater.min_size if deflater is not None else 0
        self._keys = _MaskKeys()

    def text(self, data, bint compress=True):
        cdef Py_ssize_t size
        cdef const char *utf8
        if type(data) is not str:
            data = as_str(data, "text() data")
        if PyUnicode_IS_ASCII(data):
            # An ASCII str stores its characters as UTF-8 already: frame them with no encode step.
            utf8 = PyUnicode_AsUTF8AndSize(data, &size)
            self.text_sent += 1
            self.text_bytes_sent += size
            if (self._fragment_size < 0 or size <= self._fragment_size) and (
                    self._deflater is None or not compress or size < self._min_size):
                if self._zero_copy and size >= ZERO_COPY_SIZE:
                    return _header(OP_TEXT, size, False), memoryview(_AsciiPayload(data))
                return self._frame(OP_TEXT, utf8, size, True, False)
            return self._message(OP_TEXT, PyUnicode_AsUTF8String(data), compress)
        size = _utf8_size(data)
        if size < 0:
            # A lone surrogate, which UTF-8 cannot encode: CPython raises its own UnicodeEncodeError.
            return self._message(OP_TEXT, PyUnicode_AsUTF8String(data), compress)
        self.text_sent += 1
        self.text_bytes_sent += size
        if ((self._fragment_size < 0 or size <= self._fragment_size)
                and (self._deflater is None or not compress or size < self._min_size)
                and not (self._zero_copy and size >= ZERO_COPY_SIZE)):
            return self._encoded_frame(data, size)
        return self._message(OP_TEXT, _utf8(data, size), compress)

    def binary(self, data, bint compress=True):
        if type(data) is not bytes and type(data) is not bytearray:
            data = byte_view(data, "binary() data")
        self.binary_sent += 1
        self.binary_bytes_sent += len(data)
        return self._message(OP_BINARY, data, compress)

    def ping(self, data=b""):
        if type(data) is not bytes and type(data) is not bytearray:
            data = byte_view(data, "ping() data")
        return self._control(OP_PING, data)

    def pong(self, data=b""):
        if type(data) is not bytes and type(data) is not bytearray:
            data = byte_view(data, "pong() data")
        return self._control(OP_PONG, data)

    def close(self, code=1000, reason=""):
        """A close frame; ``code=None`` sends one with no payload (the peer reports 1005)."""
        cdef bytes payload = close_payload(code, reason)
        return self._frame(OP_CLOSE, PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload), True, False)

    cdef bytes _encoded_frame(self, str text, Py_ssize_t size):
        """A text frame whose payload is encoded straight into it, after the header."""
        cdef const unsigned char *key = self._keys.next() if self._client else NULL
        cdef bytes frame = PyBytes_FromStringAndSize(NULL, _frame_size(size, key != NULL))
        cdef unsigned char *out = <unsigned char *>PyBytes_AS_STRING(frame)
        cdef Py_ssize_t pos = _write_header(out, OP_TEXT, size, True, False, key != NULL)
        if key != NULL:
            memcpy(out + pos, key, 4)
            pos += 4
        _utf8_encode(text, out + pos)
        if key != NULL:
            bolt_mask_inplace(out + pos, <size_t>size, key, 0)
        return frame

    cdef bytes _control(self, int opcode, data):
        cdef Py_buffer view
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            if view.len > MAX_CONTROL_PAYLOAD:
                raise ValueError(
                    f"control frame payload is {view.len} bytes; at most {MAX_CONTROL_PAYLOAD} (§5.5)")
            return self._frame(opcode, <const char *>view.buf, view.len, True, False)
        finally:
            PyBuffer_Release(&view)

    cdef object _message(self, int opcode, payload, bint compress):
        cdef bint compressed = self._deflater is not None and compress and len(payload) >= self._min_size
        if compressed:
            packed = self._deflater.compress(payload)
            if packed is None:
                compressed = False  # deflate would not make it smaller: sent as it is
            else:
                payload = packed
        cdef Py_buffer view
        cdef long long size = self._fragment_size
        cdef Py_ssize_t step
        cdef Py_ssize_t offset
        cdef list frames
        PyObject_GetBuffer(payload, &view, PyBUF_SIMPLE)
        try:
            if size < 0 or view.len <= size:
                if self._zero_copy and view.len >= ZERO_COPY_SIZE and type(payload) is bytes:
                    return _header(opcode, view.len, compressed), payload
                return self._frame(opcode, <const char *>view.buf, view.len, True, compressed)
            step = <Py_ssize_t>size  # under view.len, so it fits
            frames = []
            for offset in range(0, view.len, step):
                frames.append(self._frame(
                    opcode if offset == 0 else OP_CONTINUATION,
                    <const char *>view.buf + offset, min(step, view.len - offset),
                    offset + step >= view.len, compressed and offset == 0))
            return b"".join(frames)
        finally:
            PyBuffer_Release(&view)

    cdef bytes _frame(self, int opcode, const char *payload, Py_ssize_t length, bint fin, bint rsv1):
        return _encode(opcode, payload, length, fin, rsv1, self._keys.next() if self._client else NULL)


cdef inline Py_ssize_t _frame_size(Py_ssize_t length, bint masked) noexcept:
    return 2 + (0 if length < 126 else 2 if length < 65536 else 8) + (4 if masked else 0) + length


@cython.final
cdef class _AsciiPayload:
    """An ASCII ``str``'s characters as a read-only buffer, not copied: such a str already stores
    its UTF-8 encoding, and this object keeps the str alive while a transport holds the buffer."""

    cdef str _text

    def __cinit__(self, str text):
        self._text = text

    def __getbuffer__(self, Py_buffer *buffer, int flags):
        cdef Py_ssize_t size
        cdef const char *data = PyUnicode_AsUTF8AndSize(self._text, &size)
        PyBuffer_FillInfo(buffer, self, <void *>data, size, 1, flags)

    def __releasebuffer__(self, Py_buffer *buffer):
        pass


cdef inline Py_ssize_t _write_header(unsigned char *out, int opcode, Py_ssize_t length, bint fin, bint rsv1,
                                     bint masked) noexcept:
    """A frame's first bytes up to the masking key (§5.2) at ``out``; returns how many."""
    cdef unsigned char mask_bit = 0x80 if masked else 0
    cdef int i
    out[0] = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    if length < 126:
        out[1] = mask_bit | <unsigned char>length
        return 2
    if length < 65536:
        out[1] = mask_bit | 126
        out[2] = <unsigned char>(length >> 8)
        out[3] = <unsigned char>length
        return 4
    out[1] = mask_bit | 127
    for i in range(8):
        out[2 + i] = <unsigned char>((<uint64_t>length) >> (56 - 8 * i))
    return 10


cdef bytes _header(int opcode, Py_ssize_t length, bint rsv1):
    """The header of an unmasked final frame whose payload is written apart (``zero_copy``)."""
    cdef unsigned char out[10]
    return PyBytes_FromStringAndSize(<char *>out, _write_header(out, opcode, length, True, rsv1, False))


cdef inline void _write_frame(unsigned char *out, int opcode, const char *payload, Py_ssize_t length,
                              bint fin, bint rsv1, const unsigned char *key) noexcept:
    """One frame (§5.2) at ``out``, which has room for ``_frame_size(length, key != NULL)`` bytes."""
    cdef Py_ssize_t pos = _write_header(out, opcode, length, fin, rsv1, key != NULL)
    if key == NULL:
        if length:
            memcpy(out + pos, payload, length)
    else:
        memcpy(out + pos, key, 4)
        bolt_mask_copy(out + pos + 4, <const unsigned char *>payload, length, key, 0)


cdef bytes _encode(int opcode, const char *payload, Py_ssize_t length, bint fin, bint rsv1,
                   const unsigned char *key):
    cdef bytes frame = PyBytes_FromStringAndSize(NULL, _frame_size(length, key != NULL))
    _write_frame(<unsigned char *>PyBytes_AS_STRING(frame), opcode, payload, length, fin, rsv1, key)
    return frame


def encode_frame(opcode, payload, *, bint fin=True, bint rsv1=False, mask_key=None):
    """One frame's bytes (§5.2): header, then the payload, masked with ``mask_key`` if given."""
    cdef Py_buffer view
    cdef const unsigned char *key = NULL
    opcode = operator.index(opcode)
    if not 0 <= opcode <= 0xF:
        raise ValueError(f"opcode {opcode} does not fit in 4 bits (§5.2)")
    payload = byte_view(payload, "encode_frame() payload")
    if mask_key is not None:
        mask_key = as_bytes(mask_key, "mask key")
        if len(mask_key) != 4:
            raise ValueError("a mask key is 4 bytes")
        key = <const unsigned char *>PyBytes_AS_STRING(mask_key)
    PyObject_GetBuffer(payload, &view, PyBUF_SIMPLE)
    try:
        return _encode(<int>opcode, <const char *>view.buf, view.len, fin, rsv1, key)
    finally:
        PyBuffer_Release(&view)
