# cython: language_level=3
"""permessage-deflate's compression (RFC 7692 §7), compiled: the twin of ``bolt/_deflate.py``.

The same classes, arguments, results and errors as the pure twin, which calls the standard
library's zlib module; this one calls zlib's C API itself. Read the pure module's docstrings for
the why. What changes here:

- Inflating writes straight into the ``bytes`` it returns, first guessed at 4 times the input and
  shrunk to fit. Output past that goes into further blocks, each sized by the ratio seen so far,
  joined at the end (the zlib module joins fixed-size blocks). Never more than ``limit + 1`` bytes
  come out: a deflate bomb costs about the limit, half what the twin holds.
- Deflating writes into a ``bytes`` of the message's size plus 4: output that fills it is output the
  twin would not send either (``len(output) - 4 >= len(data)``), so deflate stops there.
- zlib allocates through ``PyMem_RawMalloc``, as the zlib module does, so tracemalloc counts its
  state for both twins alike.
- The GIL is released around zlib calls with 64 KiB or more to read or write; a second thread calling
  into the same object meanwhile gets ``RuntimeError`` (the twin's zlib objects would wait for the
  first; one connection's compressor is never shared in bolt).
- Failures give the messages the zlib module gives (``Error -3 while decompressing data: ...``).

``deflate.pxd`` declares the C methods the compiled frame codec may call without Python overhead.
"""

import zlib

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_IsContiguous, PyBuffer_Release, PyObject_GetBuffer
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.mem cimport PyMem_RawFree, PyMem_RawMalloc
from cpython.number cimport PyNumber_Index
from cpython.object cimport PyObject
from cpython.ref cimport Py_XDECREF
from libc.limits cimport LLONG_MAX, UINT_MAX
from libc.string cimport memcpy

from bolt._deflate import SAMPLE_FROM, SAMPLE_SIZE, worth_compressing
from bolt.exceptions import MessageTooBig, ProtocolError


cdef extern from "zlib.h" nogil:
    const char *ZLIB_VERSION_C "ZLIB_VERSION"
    int Z_OK
    int Z_STREAM_END
    int Z_BUF_ERROR
    int Z_STREAM_ERROR
    int Z_DATA_ERROR
    int Z_MEM_ERROR
    int Z_VERSION_ERROR
    int Z_NO_FLUSH
    int Z_SYNC_FLUSH
    int Z_DEFLATED
    int Z_DEFAULT_STRATEGY
    int inflateInit2(z_stream *stream, int window_bits)
    int inflate(z_stream *stream, int flush)
    int inflateEnd(z_stream *stream)
    int deflateInit2(z_stream *stream, int level, int method, int window_bits, int memory_level, int strategy)
    int deflate(z_stream *stream, int flush)
    int deflateEnd(z_stream *stream)
    const char *zlibVersion()


cdef extern from "Python.h":
    Py_ssize_t PY_SSIZE_T_MAX
    # Raw pointers, so that _PyBytes_Resize can shrink the result in place.
    PyObject *new_bytes "PyBytes_FromStringAndSize"(const char *data, Py_ssize_t size) except NULL
    char *bytes_data "PyBytes_AS_STRING"(PyObject *data) nogil
    int _PyBytes_Resize(PyObject **data, Py_ssize_t size) except -1


# The zlib this module was compiled against, and the one it runs with (zlib.ZLIB_VERSION and
# zlib.ZLIB_RUNTIME_VERSION say the same of the pure twin's).
ZLIB_VERSION = (<bytes>ZLIB_VERSION_C).decode("ascii")
ZLIB_RUNTIME_VERSION = (<bytes>zlibVersion()).decode("ascii")

# §7.2.1: a sender removes the 4 bytes an empty stored block ends with; §7.2.2: a receiver appends
# them again before inflating the end of the message.
TAIL = b"\x00\x00\xff\xff"
cdef const char *TAIL_C = b"\x00\x00\xff\xff"

cdef enum:
    # A zlib call with this much to read and write together runs without the GIL (about 50 µs of
    # work and more); under it, releasing and taking the GIL back would cost more than it frees.
    NOGIL_BYTES = 64 * 1024
    # Room for the first output block of an inflate: 4 times the input plus a little.
    FIRST_RATIO = 4
    FIRST_EXTRA = 256
    FIRST_MAX = 16 * 1024 * 1024
    COPY_FROM = 128 * 1024


cdef voidpf _zalloc(voidpf opaque, uInt items, uInt size) noexcept nogil:
    # As CPython's zlib module allocates (PyZlib_Malloc): raw domain, visible to tracemalloc.
    if size != 0 and items > <size_t>PY_SSIZE_T_MAX / size:
        return NULL
    return PyMem_RawMalloc(<size_t>items * size)


cdef void _zfree(voidpf opaque, voidpf address) noexcept nogil:
    PyMem_RawFree(address)


cdef inline Py_ssize_t _block_size(Py_ssize_t produced, Py_ssize_t cap, Py_ssize_t taken,
                                   Py_ssize_t total) noexcept:
    """The size of the next output block of an inflate, once ``produced`` bytes filled the blocks
    before it with ``taken`` of ``total`` input bytes read: what the rest of the input inflates to
    at the ratio so far, and an eighth more; at least a quarter of ``produced`` (so the blocks grow
    geometrically and the copies stay linear) and at most 3 times it (so a bomb reaches ``cap`` in
    a few blocks, without one huge guess); never past ``cap``."""
    cdef double estimate = <double>produced * 3
    if taken > 0:
        estimate = <double>produced * (<double>total / taken * 1.125 - 1) + FIRST_EXTRA
    if estimate < <double>produced / 4 + FIRST_EXTRA:
        estimate = <double>produced / 4 + FIRST_EXTRA
    elif estimate > <double>produced * 3:
        estimate = <double>produced * 3
    if estimate >= <double>(cap - produced):
        return cap - produced
    return <Py_ssize_t>estimate


cdef bytes _join(list blocks, PyObject *last, Py_ssize_t used, Py_ssize_t total):
    """The full ``blocks`` and the first ``used`` bytes of ``last``, ``total`` bytes, as one ``bytes``."""
    cdef bytes result = PyBytes_FromStringAndSize(NULL, total)
    cdef char *at = PyBytes_AS_STRING(result)
    cdef Py_ssize_t index
    cdef bytes block
    for index in range(len(blocks)):
        block = blocks[index]
        memcpy(at, PyBytes_AS_STRING(block), PyBytes_GET_SIZE(block))
        at += PyBytes_GET_SIZE(block)
        blocks[index] = None  # freed as soon as copied
    memcpy(at, bytes_data(last), used)
    return result


cdef void _prepare(z_stream *stream) noexcept nogil:
    stream.zalloc = _zalloc
    stream.zfree = _zfree
    stream.opaque = NULL
    stream.next_in = NULL
    stream.avail_in = 0
    stream.msg = NULL


cdef int _as_int(value) except? -1:
    # The zlib module's int arguments: an index (no float), a C int (OverflowError past it).
    return PyNumber_Index(value)


cdef str _zlib_error(z_stream *stream, int err, str doing):
    """What the zlib module says of the same failure (CPython's Modules/zlibmodule.c, zlib_error)."""
    cdef const char *detail = NULL
    if err == Z_VERSION_ERROR:
        detail = "library version mismatch"
    elif stream.msg != NULL:
        detail = stream.msg
    elif err == Z_BUF_ERROR:
        detail = "incomplete or truncated stream"
    elif err == Z_STREAM_ERROR:
        detail = "inconsistent stream state"
    elif err == Z_DATA_ERROR:
        detail = "invalid input data"
    if detail == NULL:
        return f"Error {err} {doing}"
    return f"Error {err} {doing}: {(<bytes>detail)[:200].decode('utf-8', 'replace')}"


cdef int _get_buffer(data, Py_buffer *view, str method) except -1:
    """``data``'s bytes as the zlib module takes them: any C-contiguous buffer."""
    PyObject_GetBuffer(data, view, PyBUF_SIMPLE)
    if not PyBuffer_IsContiguous(view, b"C"):
        PyBuffer_Release(view)
        raise TypeError(f"{method}() argument 1 must be contiguous buffer, not {type(data).__name__}")
    return 0


cdef long long _limit(limit) except? -2:
    """``limit`` as a C integer: negative is "no limit", as in the twin, and so is one past
    2**63 - 1 (no output can reach it)."""
    cdef int overflow = 0
    cdef long long value = PyLong_AsLongLongAndOverflow(PyNumber_Index(limit), &overflow)
    if overflow > 0:
        return LLONG_MAX
    return -1 if value < 0 or overflow < 0 else value


cdef class Inflater:
    """Inflates the compressed messages one peer sends (RFC 7692 §7.2.2).

    ``inflate(data, limit)`` takes one frame's payload of a compressed message, in order;
    ``finish(limit)`` ends the message. ``limit`` is how many bytes of output the message may still
    produce (-1: no limit); past it, ``MessageTooBig``. A stream zlib cannot inflate breaks
    RFC 7692 §7.2.2: a ``ProtocolError`` (1002).
    """

    def __init__(self, window_bits=15, reset=False):
        if self._busy:
            raise RuntimeError("this Inflater is in use by another thread")
        # As the twin: a window of 9..15 inflates any peer's stream; state made at the first message.
        self._end()
        self._window_bits = max(9, window_bits)
        self._reset = reset

    def __dealloc__(self):
        if self._open:
            inflateEnd(&self._stream)

    def inflate(self, data, limit):
        """The bytes ``data`` (one frame's payload of a compressed message) inflates to."""
        cdef long long c_limit = _limit(limit)
        cdef Py_buffer view
        _get_buffer(data, &view, "inflate")
        try:
            return self._run(<const unsigned char *>view.buf, view.len, c_limit, False)
        finally:
            PyBuffer_Release(&view)

    def finish(self, limit):
        """The end of the message (RFC 7692 §7.2.2: the tail 00 00 ff ff appended), then, without
        context takeover, the window dropped."""
        return self._run(NULL, 0, _limit(limit), True)

    cdef int _start(self) except -1:
        cdef int bits = _as_int(-self._window_bits)
        _prepare(&self._stream)
        cdef int err = inflateInit2(&self._stream, bits)
        if err == Z_OK:
            self._open = True
            return 0
        if err == Z_STREAM_ERROR:
            raise ValueError("Invalid initialization option")
        if err == Z_MEM_ERROR:
            raise MemoryError("Can't allocate memory for decompression object")
        raise zlib.error(_zlib_error(&self._stream, err, "while creating decompression object"))

    cdef void _end(self) noexcept:
        if self._open:
            self._open = False
            inflateEnd(&self._stream)

    cdef bytes _run(self, const unsigned char *data, Py_ssize_t length, long long limit, bint finish):
        """Inflate ``length`` bytes at ``data``, then with ``finish`` the tail, into one ``bytes``:
        ``inflate(data, limit)``, ``finish(limit)``, or both in a row (the twin's checks kept:
        over the limit in the tail reports the room the tail had)."""
        if self._busy:
            raise RuntimeError("this Inflater is in use by another thread")
        if not self._open:
            self._start()
        cdef z_stream *stream = &self._stream
        # At most limit + 1 bytes come out: one byte over tells the message is too big.
        cdef Py_ssize_t cap = PY_SSIZE_T_MAX if limit < 0 or limit >= PY_SSIZE_T_MAX else <Py_ssize_t>limit + 1
        cdef Py_ssize_t size = FIRST_MAX
        if length < (FIRST_MAX - FIRST_EXTRA) / FIRST_RATIO:
            size = length * FIRST_RATIO + FIRST_EXTRA
        if size > cap:
            size = cap
        cdef Py_ssize_t used = 0  # in the block being filled, out
        cdef Py_ssize_t produced = 0  # in all blocks
        cdef list blocks = None  # the full blocks before out, if the first one was too small
        cdef Py_ssize_t before_tail = -1
        cdef const unsigned char *source = data
        cdef Py_ssize_t left = length
        cdef Py_ssize_t taken = 0  # input bytes inflated so far, the tail's included
        cdef bint tail = finish
        cdef uInt chunk
        cdef uInt room
        cdef uInt consumed
        cdef int err = Z_OK
        cdef PyObject *out = new_bytes(NULL, size)
        cdef PyObject *full
        cdef bytes result
        self._busy = True
        try:
            while True:
                if left == 0 and tail:
                    source = <const unsigned char *>TAIL_C
                    left = 4
                    tail = False
                    before_tail = produced
                chunk = <uInt>left if left < UINT_MAX else UINT_MAX
                stream.next_in = <Bytef *>source
                stream.avail_in = chunk
                while True:  # until this input is inflated, the stream ends, or cap bytes came out
                    if used == size:
                        if produced == cap:
                            break
                        # A new block rather than a larger one: nothing is copied until the end,
                        # and no buffer is much larger than what it holds. (glibc serves a large
                        # buffer larger than the last one freed with fresh pages, a page fault
                        # per 4 KiB; growing one by doubling cost 10% at 1 MiB.)
                        if blocks is None:
                            blocks = []
                        blocks.append(<object>out)
                        full = out
                        out = NULL
                        Py_XDECREF(full)
                        size = _block_size(produced, cap, taken + (chunk - stream.avail_in), length + 4 * finish)
                        out = new_bytes(NULL, size)
                        used = 0
                    room = <uInt>(size - used) if size - used < UINT_MAX else UINT_MAX
                    stream.next_out = <Bytef *>bytes_data(out) + used
                    stream.avail_out = room
                    if <size_t>stream.avail_in + room >= NOGIL_BYTES:
                        with nogil:
                            err = inflate(stream, Z_SYNC_FLUSH)
                    else:
                        err = inflate(stream, Z_SYNC_FLUSH)
                    used += room - stream.avail_out
                    produced += room - stream.avail_out
                    if (err != Z_OK and err != Z_BUF_ERROR) or stream.avail_out:
                        break
                consumed = chunk - stream.avail_in
                source += consumed
                left -= consumed
                taken += consumed
                if err != Z_OK and err != Z_BUF_ERROR and err != Z_STREAM_END:
                    raise ProtocolError(
                        f"invalid compressed data: {_zlib_error(stream, err, 'while decompressing data')}")
                # The stream's end (a block with BFINAL): what follows is ignored, as by the twin.
                if err == Z_STREAM_END or produced == cap or (left == 0 and not tail):
                    break
                if consumed == 0 and stream.avail_out:
                    break  # zlib took none of the input and wants no room: nothing more will come
            if limit >= 0 and produced > limit:
                if 0 <= before_tail <= limit:
                    limit -= before_tail  # finish() after inflate(): the room the tail had
                raise MessageTooBig(f"decompressed message is over the limit ({limit} more bytes were allowed)")
            if blocks is not None:
                result = _join(blocks, out, used, produced)
            elif produced >= COPY_FROM and size - produced > produced // 8:
                # Far larger than its content: copied out, and freed at the size it was allocated
                # at, so that the allocator serves the next one from memory it already has.
                result = PyBytes_FromStringAndSize(bytes_data(out), produced)
            else:
                if produced != size:
                    _PyBytes_Resize(&out, produced)
                result = <bytes>out
        finally:
            self._busy = False
            Py_XDECREF(out)
        if finish and self._reset:
            # The peer starts every message with an empty window: so may we, and free ours.
            self._end()
        return result


cdef class Deflater:
    """Deflates the messages this end sends (RFC 7692 §7.2.1). ``min_size``: shorter messages are
    sent as they are, where compressing them would cost more than it saves."""

    def __init__(self, window_bits=15, reset=False, level=6, memory_level=8, min_size=128):
        if self._busy:
            raise RuntimeError("this Deflater is in use by another thread")
        self._end()
        self._window_bits = window_bits
        self._reset = reset
        self._level = level
        self._memory_level = memory_level
        self.min_size = min_size

    def __dealloc__(self):
        if self._open:
            deflateEnd(&self._stream)

    def compress(self, data):
        """The message's compressed payload, or None where deflate did not make it smaller (random
        or already compressed data): the message then goes out as it is."""
        cdef Py_buffer view
        _get_buffer(data, &view, "compress")
        try:
            return self.compress_c(<const unsigned char *>view.buf, view.len)
        finally:
            PyBuffer_Release(&view)

    cdef int _start(self) except -1:
        # Converted in the order, and with the errors, of zlib.compressobj(level, DEFLATED, -bits, memory).
        cdef int level = _as_int(self._level)
        cdef int bits = _as_int(-self._window_bits)
        cdef int memory_level = _as_int(self._memory_level)
        _prepare(&self._stream)
        cdef int err = deflateInit2(&self._stream, level, Z_DEFLATED, bits, memory_level, Z_DEFAULT_STRATEGY)
        if err == Z_OK:
            self._open = True
            return 0
        if err == Z_MEM_ERROR:
            raise MemoryError("Can't allocate memory for compression object")
        if err == Z_STREAM_ERROR:
            raise ValueError("Invalid initialization option")
        raise zlib.error(_zlib_error(&self._stream, err, "while creating compression object"))

    cdef void _end(self) noexcept:
        if self._open:
            self._open = False
            deflateEnd(&self._stream)

    cdef object compress_c(self, const unsigned char *data, Py_ssize_t length):
        if self._busy:
            raise RuntimeError("this Deflater is in use by another thread")
        if length >= SAMPLE_FROM and not worth_compressing(
                PyBytes_FromStringAndSize(<const char *>data, SAMPLE_SIZE)):
            return None  # see bolt._deflate.SAMPLE_FROM: the compressor never saw it
        if not self._open:
            self._start()
        # The twin sends the message plain when len(output) - 4 >= len(data): output that fills
        # length + 4 bytes is never used, so that is all the room deflate gets.
        cdef Py_ssize_t size = length + 4
        cdef Py_ssize_t produced = 0
        cdef bint full = False
        cdef PyObject *out = new_bytes(NULL, size)
        cdef bytes result = None
        self._busy = True
        try:
            # Two steps, as the twin's compress() then flush(Z_SYNC_FLUSH): the same bytes, and an
            # empty message right after another still gets its own sync marker (zlib skips a sync
            # flush that follows a sync flush with no call in between).
            full = _pump(&self._stream, data, length, Z_NO_FLUSH, bytes_data(out), size, &produced,
                         "while compressing data")
            if not full:
                full = _pump(&self._stream, NULL, 0, Z_SYNC_FLUSH, bytes_data(out), size, &produced,
                             "while flushing")
            if not full:
                # A sync flush always ends with the empty stored block's 00 00 ff ff (§7.2.1).
                _PyBytes_Resize(&out, produced - 4 if produced > 4 else 0)
                result = <bytes>out
        finally:
            self._busy = False
            Py_XDECREF(out)
        if self._reset or full:
            # server_no_context_takeover / client_no_context_takeover agreed for this end
            # (§7.1.1): the next message starts from an empty window, and none is kept meanwhile.
            # Or the message goes out uncompressed: then the window holds bytes the peer never
            # inflated, and a compressor that starts afresh never refers back to them.
            self._end()
        return result


cdef int _pump(z_stream *stream, const unsigned char *data, Py_ssize_t length, int flush,
               char *out, Py_ssize_t size, Py_ssize_t *produced, str doing) except -1:
    """Deflate ``length`` bytes at ``data`` with ``flush`` into ``out[produced:size]``; 1 when the
    output filled all ``size`` bytes (deflate may have had more), else 0 with all of it out."""
    cdef Py_ssize_t left = length
    cdef uInt chunk
    cdef uInt room
    cdef int err
    while True:
        chunk = <uInt>left if left < UINT_MAX else UINT_MAX
        stream.next_in = <Bytef *>data
        stream.avail_in = chunk
        while True:
            if produced[0] == size:
                return 1
            room = <uInt>(size - produced[0]) if size - produced[0] < UINT_MAX else UINT_MAX
            stream.next_out = <Bytef *>out + produced[0]
            stream.avail_out = room
            if <size_t>chunk + room >= NOGIL_BYTES:
                with nogil:
                    err = deflate(stream, flush)
            else:
                err = deflate(stream, flush)
            produced[0] += room - stream.avail_out
            if err == Z_STREAM_ERROR:
                raise zlib.error(_zlib_error(stream, err, doing))
            if stream.avail_out:
                break  # all of this input is in (deflate stops only when out of input or room)
        data += chunk
        left -= chunk
        if left == 0:
            return 0
