# cython: language_level=3
"""The compiled permessage-deflate engine's C interface (RFC 7692 §7), for Cython callers.

``from bolt._speedups.deflate cimport Inflater, Deflater`` lets the frame codec call the engine
with a pointer and a length, with no memoryview and no Python call in between: check the object's
exact type first (``type(x) is Inflater``), since a Python subclass may override the Python methods.

- ``Inflater.inflate_c(data, length, limit)`` is ``inflate()`` on ``length`` bytes at ``data``.
- ``Inflater.finish_c(limit)`` is ``finish()``.
- ``Inflater.inflate_message_c(data, length, limit)`` is ``inflate()`` then ``finish()`` with the
  room left, as one call into one output buffer: a message that arrived in one frame.
- ``Deflater.compress_c(data, length)`` is ``compress()``: ``bytes``, or ``None``.

Each raises exactly what its Python method raises. ``data`` must stay valid and unchanged for the
call: the engine may release the GIL while it reads it.
"""

cdef extern from "zlib.h" nogil:
    ctypedef unsigned char Bytef
    ctypedef unsigned int uInt
    ctypedef void *voidpf
    ctypedef voidpf (*alloc_func)(voidpf opaque, uInt items, uInt size) noexcept nogil
    ctypedef void (*free_func)(voidpf opaque, voidpf address) noexcept nogil

    ctypedef struct z_stream:
        Bytef *next_in
        uInt avail_in
        Bytef *next_out
        uInt avail_out
        char *msg
        alloc_func zalloc
        free_func zfree
        voidpf opaque


cdef class Inflater:
    cdef z_stream _stream
    cdef bint _open  # _stream holds zlib state (made at the first message, as the pure twin does)
    cdef bint _busy  # a call is running, maybe without the GIL: a second thread is refused
    cdef bint _reset
    cdef object _window_bits

    cdef int _start(self) except -1
    cdef void _end(self) noexcept
    cdef bytes _run(self, const unsigned char *data, Py_ssize_t length, long long limit, bint finish)
    cdef bytes inflate_c(self, const unsigned char *data, Py_ssize_t length, long long limit)
    cdef bytes finish_c(self, long long limit)
    cdef bytes inflate_message_c(self, const unsigned char *data, Py_ssize_t length, long long limit)


cdef class Deflater:
    cdef z_stream _stream
    cdef bint _open
    cdef bint _busy
    cdef bint _reset
    cdef object _window_bits
    cdef object _level
    cdef object _memory_level
    cdef public object min_size

    cdef int _start(self) except -1
    cdef void _end(self) noexcept
    cdef object compress_c(self, const unsigned char *data, Py_ssize_t length)
