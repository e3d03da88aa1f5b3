# The receive waiter's declaration, for the compiled stream core (stream_core.pyx), which calls
# wake() and rearm() as C methods.

cimport cython

cdef enum:
    PENDING = 0
    FINISHED = 1
    CANCELLED = 2


@cython.final
cdef class Waiter:
    cdef object _loop
    cdef int _state
    cdef object _callback
    cdef object _context
    cdef list _more_callbacks
    cdef object _cancel_message
    cdef bint _yielded
    cdef bint _consumed
    # Read and written by asyncio's Task (task_step_impl sets it to False on the yielded object).
    cdef public object _asyncio_future_blocking

    cpdef wake(self)
    cpdef bint rearm(self)
    cdef _cancelled_error(self)
    cdef _schedule_callbacks(self)
    cdef _schedule_more(self)
