# cython: language_level=3
"""The receive waiter, compiled: the twin of ``bolt/_pure/waiter.py``.

Same states, same rules in the same order, same errors as the pure module; read its docstrings for
the why. A ``cdef class`` so that what asyncio's C Task calls on it each message (setting
``_asyncio_future_blocking``, ``get_loop()``, ``add_done_callback()``, ``result()``, and the await
itself, ``__await__`` and ``__next__``) are C slots and methods, not Python frames.
"""

from cpython.contextvars cimport PyContext_Enter, PyContext_Exit

from asyncio import CancelledError, InvalidStateError, current_task
from contextvars import copy_context

def _reraise(exc):
    raise exc


cdef class Waiter:
    """One ``await`` at a time for the next message of one connection (see bolt/_pure/waiter.py).
    Its attributes are declared in waiter.pxd."""

    def __cinit__(self, loop):
        self._loop = loop
        self._state = PENDING
        self._asyncio_future_blocking = False

    # What the stream calls

    cpdef wake(self):
        """Finish with result None (unless already done) and resume the awaiting task: directly
        when no task is running on the loop, else through ``call_soon``."""
        if self._state != PENDING:
            return
        self._state = FINISHED
        callback = self._callback
        if callback is None:
            return
        context = self._context
        self._callback = None
        self._context = None
        if self._more_callbacks is not None:
            self._schedule_more()
        loop = self._loop
        if current_task(loop) is not None:
            loop.call_soon(callback, self, context=context)
            return
        # context.run(callback, self), with the C API: entering fails (RuntimeError) only when
        # the context is already entered, before anything ran, and then the wake-up is scheduled.
        try:
            PyContext_Enter(context)
        except RuntimeError:
            loop.call_soon(callback, self, context=context)
            return
        try:
            callback(self)
        except (SystemExit, KeyboardInterrupt) as exc:
            loop.call_soon(_reraise, exc)  # to stop the loop from a Handle, not the read callback
        except BaseException as exc:
            loop.call_exception_handler(
                {"message": f"Exception in callback {callback!r}", "exception": exc, "future": self}
            )
        finally:
            PyContext_Exit(context)

    cpdef bint rearm(self):
        """Make the waiter pending for another await; False if it cannot be reused."""
        if not self._consumed:
            return False
        self._state = PENDING
        self._yielded = False
        self._consumed = False
        return True

    # asyncio.Future's protocol, as asyncio's Task uses it

    def get_loop(self):
        return self._loop

    def done(self):
        return self._state != PENDING

    def cancelled(self):
        return self._state == CANCELLED

    def result(self):
        if self._state == FINISHED:
            return None
        if self._state == CANCELLED:
            raise self._cancelled_error()
        raise InvalidStateError("Result is not set.")

    def exception(self):
        if self._state == FINISHED:
            return None
        if self._state == CANCELLED:
            raise self._cancelled_error()
        raise InvalidStateError("Exception is not set.")

    def set_result(self, result):
        if self._state != PENDING:
            raise InvalidStateError("invalid state")
        self._state = FINISHED
        self._schedule_callbacks()

    def cancel(self, msg=None):
        if self._state != PENDING:
            return False
        self._state = CANCELLED
        self._cancel_message = msg
        self._schedule_callbacks()
        return True

    def add_done_callback(self, fn, *, context=None):
        if context is None:
            context = copy_context()
        if self._state != PENDING:
            self._loop.call_soon(fn, self, context=context)
        elif self._callback is None:
            self._callback = fn
            self._context = context
        else:
            if self._more_callbacks is None:
                self._more_callbacks = []
            self._more_callbacks.append((fn, context))

    def remove_done_callback(self, fn):
        cdef Py_ssize_t removed = 0
        if self._callback is not None and self._callback == fn:
            removed = 1
            self._callback = None
            self._context = None
        if self._more_callbacks:
            kept = [(f, c) for f, c in self._more_callbacks if f != fn]
            removed += len(self._more_callbacks) - len(kept)
            self._more_callbacks = kept or None
        if self._callback is None and self._more_callbacks:
            self._callback, self._context = self._more_callbacks.pop(0)
        return removed

    def __await__(self):
        return self

    def __iter__(self):
        return self

    def __next__(self):
        if not self._yielded:
            self._yielded = True
            if self._state == PENDING:
                self._asyncio_future_blocking = True
                return self
        elif self._state == PENDING:
            raise RuntimeError("await wasn't used with future")
        self._consumed = True
        if self._state == CANCELLED:
            raise self._cancelled_error()
        # Returning NULL with no exception set from tp_iternext ends the await with None.
        raise StopIteration

    # Internals

    cdef _cancelled_error(self):
        if self._cancel_message is None:
            return CancelledError()
        return CancelledError(self._cancel_message)

    cdef _schedule_callbacks(self):
        callback = self._callback
        if callback is not None:
            self._loop.call_soon(callback, self, context=self._context)
            self._callback = None
            self._context = None
        if self._more_callbacks is not None:
            self._schedule_more()

    cdef _schedule_more(self):
        more = self._more_callbacks
        self._more_callbacks = None
        for fn, context in more:
            self._loop.call_soon(fn, self, context=context)

    def __repr__(self):
        return f"<bolt Waiter {('pending', 'finished', 'cancelled')[self._state]}>"
