# cython: language_level=3
"""The compiled permessage-deflate engine's declarations (RFC 7692 §7).

The frame codec calls the engine through its Python methods (``inflate``, ``finish``,
``compress``), not through a ``cimport``: on Windows this module is not built (no zlib headers),
and the compiled frame codec must still load there with the pure engine beside it.
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
