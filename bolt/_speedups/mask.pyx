# cython: binding=False, embedsignature=True, embedsignature.format=clinic
# binding=False makes mask() and mask_inplace() plain builtins, which CPython calls about 3 ns (15%)
# faster than Cython's function objects at 16 bytes; the clinic signature keeps inspect.signature().
"""WebSocket payload masking (RFC 6455 §5.3) over the C kernel in mask_kernel.h.

``phase`` says which key byte the first byte of ``data`` meets, so a payload that arrives in pieces
is unmasked piece by piece with the running offset: byte i is XORed with ``key[(phase + i) % 4]``.
The pure-Python twin is ``bolt._pure.mask``; both raise the same errors.

Most payloads are a few dozen bytes, so the call overhead matters as much as the kernel: exact
``bytes`` and ``bytearray`` arguments and small int phases take inline fast paths, and everything
else goes through ``PyObject_GetBuffer`` in functions of its own, out of the fast path's way. (A
typed memoryview argument was measured at about 110 ns more per call than ``PyObject_GetBuffer``.)
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_Release
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_CheckExact, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.exc cimport PyErr_Clear, PyErr_ExceptionMatches
from cpython.long cimport PyLong_AsLongAndOverflow, PyLong_CheckExact
from cpython.number cimport PyNumber_Index
from libc.string cimport memcpy


cdef extern from "mask_kernel.h":
    void bolt_mask_inplace(unsigned char *data, size_t n, const unsigned char *key, size_t phase) nogil
    void bolt_mask_copy(unsigned char *dst, const unsigned char *src, size_t n,
                        const unsigned char *key, size_t phase) nogil


cdef extern from "Python.h":
    # Declared without an exception value: _get_buffer turns a failure into the twin's TypeError.
    int PyObject_GetBuffer(object obj, Py_buffer *view, int flags)


def mask(data, key, phase=0):
    """Return ``data`` masked with the 4-byte ``key``, starting at key byte ``phase % 4``, as bytes.

    ``data`` is any C-contiguous bytes-like object. Masking twice with the same key and phase gives
    the data back, so this both masks and unmasks.
    """
    cdef size_t start = _key_phase(phase)
    cdef unsigned char key_bytes[4]
    cdef Py_ssize_t length
    cdef bytes result
    _copy_key(key, key_bytes)
    if not PyBytes_CheckExact(data):
        return _mask_buffer(data, key_bytes, start)
    # bytes cannot change under us while the result is allocated, so its pointer stays valid.
    length = PyBytes_GET_SIZE(data)
    result = PyBytes_FromStringAndSize(NULL, length)
    bolt_mask_copy(<unsigned char *>PyBytes_AS_STRING(result),
                   <const unsigned char *>PyBytes_AS_STRING(data), <size_t>length, key_bytes, start)
    return result


def mask_inplace(buffer, key, phase=0):
    """Mask the writable C-contiguous ``buffer`` in place with ``key``, starting at key byte ``phase % 4``.

    A slice of a memoryview masks only that slice: this is how the frame parser unmasks a payload
    inside its read buffer.
    """
    cdef size_t start = _key_phase(phase)
    cdef unsigned char key_bytes[4]
    _copy_key(key, key_bytes)
    if not PyByteArray_CheckExact(buffer):
        _mask_buffer_inplace(buffer, key_bytes, start)
        return
    # Nothing between reading the pointer and masking runs Python code, so the bytearray cannot be
    # resized under the kernel.
    bolt_mask_inplace(<unsigned char *>PyByteArray_AS_STRING(buffer),
                      <size_t>PyByteArray_GET_SIZE(buffer), key_bytes, start)


cdef bytes _mask_buffer(object data, const unsigned char *key_bytes, size_t start):
    cdef Py_buffer view
    cdef bytes result
    _get_buffer(data, &view, False, "mask() data")
    # The view is held while the result is allocated, so the exporter cannot move or free the
    # memory even if the allocation runs a garbage collection.
    try:
        result = PyBytes_FromStringAndSize(NULL, view.len)
        bolt_mask_copy(<unsigned char *>PyBytes_AS_STRING(result),
                       <const unsigned char *>view.buf, <size_t>view.len, key_bytes, start)
    finally:
        PyBuffer_Release(&view)
    return result


cdef int _mask_buffer_inplace(object buffer, const unsigned char *key_bytes, size_t start) except -1:
    cdef Py_buffer view
    _get_buffer(buffer, &view, True, "mask_inplace() buffer")
    bolt_mask_inplace(<unsigned char *>view.buf, <size_t>view.len, key_bytes, start)
    PyBuffer_Release(&view)
    return 0


cdef inline size_t _key_phase(object phase) except? 4:
    """``phase % 4``, refusing a negative phase (a byte offset into the payload cannot be negative)."""
    cdef int overflow = 0
    cdef long value
    if PyLong_CheckExact(phase):
        value = PyLong_AsLongAndOverflow(phase, &overflow)
        if overflow == 0 and value >= 0:
            return <size_t>value & 3
    return _any_key_phase(phase)


cdef size_t _any_key_phase(object phase) except? 4:
    """``_key_phase`` for int subclasses, objects with ``__index__`` and ints beyond a C long."""
    value = PyNumber_Index(phase)
    if value < 0:
        raise ValueError(f"phase must be >= 0, got {phase!r}")
    return value & 3


cdef inline int _copy_key(object key, unsigned char *key_bytes) except -1:
    """Copy the masking key into ``key_bytes``; it must be exactly 4 bytes (RFC 6455 §5.3)."""
    if PyBytes_CheckExact(key) and PyBytes_GET_SIZE(key) == 4:
        memcpy(key_bytes, PyBytes_AS_STRING(key), 4)
        return 0
    return _copy_any_key(key, key_bytes)


cdef int _copy_any_key(object key, unsigned char *key_bytes) except -1:
    cdef Py_buffer view
    cdef Py_ssize_t length
    _get_buffer(key, &view, False, "mask key")
    length = view.len
    if length == 4:
        memcpy(key_bytes, view.buf, 4)
    PyBuffer_Release(&view)
    if length != 4:
        raise ValueError(f"mask key must be 4 bytes, got {length}")
    return 0


cdef int _get_buffer(object obj, Py_buffer *view, bint writable, str what) except -1:
    """Acquire ``obj`` as one contiguous run of bytes, or raise the TypeError the pure twin raises."""
    if PyObject_GetBuffer(obj, view, PyBUF_WRITABLE if writable else PyBUF_SIMPLE) == 0:
        return 0
    # "Not bytes-like", "not contiguous" and "read-only" become one TypeError; anything else (a
    # MemoryError) propagates as it is.
    if not (PyErr_ExceptionMatches(TypeError) or PyErr_ExceptionMatches(BufferError)):
        return -1
    PyErr_Clear()
    kind = "a writable" if writable else "a"
    raise TypeError(f"{what} must be {kind} C-contiguous bytes-like object, not {type(obj).__name__}")
