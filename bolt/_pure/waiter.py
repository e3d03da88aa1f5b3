"""The receive waiter: a reusable, Future-compatible object a handler's task awaits for its next
message, which the read callback resumes at once instead of through ``call_soon``.

The twin of ``bolt._speedups.waiter`` (same states, same rules, same errors).

Why not ``asyncio.Future``: with a Future, each message costs ``create_future()`` in ``receive()``,
then ``set_result()`` in the read callback, which schedules the task's wake-up with ``call_soon``
(a Handle), which the loop runs on its next iteration. Here the read callback runs the task's
wake-up itself (``wake()``), in the task's context, as the loop's Handle would; and a waiter whose
await has finished is re-armed for the next ``receive()`` instead of allocated again.

asyncio's Task accepts any awaitable that yields an object with ``_asyncio_future_blocking``
(CPython Lib/asyncio/tasks.py ``Task.__step``, Modules/_asynciomodule.c ``task_step_impl``): it sets
that attribute to False, checks ``get_loop()``, calls ``add_done_callback(wakeup, context=ctx)``
and keeps the object as its ``_fut_waiter``; ``task.cancel()`` calls its ``cancel(msg)``; the
wake-up (``task_wakeup``) calls ``result()`` and steps the coroutine, passing on what ``result()``
raised. That is the whole protocol this object implements; it is never handed to user code.
"""

from __future__ import annotations

from asyncio import AbstractEventLoop, CancelledError, InvalidStateError, current_task
from collections.abc import Callable, Generator
from contextvars import Context, copy_context
from typing import Any

Callback = Callable[["Waiter"], object]

PENDING = 0
FINISHED = 1
CANCELLED = 2


def _reraise(exc: BaseException) -> None:
    raise exc


class Waiter:
    """One ``await`` at a time for the next message of one connection (see the module docstring).

    ``wake()`` finishes it and resumes the awaiting task; ``rearm()`` makes it pending again once
    that await is over. Everything else is the part of ``asyncio.Future`` that asyncio's Task uses.
    """

    __slots__ = (
        "_loop",
        "_state",
        "_callback",
        "_context",
        "_more_callbacks",
        "_cancel_message",
        "_yielded",
        "_consumed",
        "_taken",
        "_asyncio_future_blocking",
    )

    def __init__(self, loop: AbstractEventLoop) -> None:
        self._loop = loop
        self._state = PENDING
        # The awaiting task's wake-up and its context: the first done callback, the only one in
        # practice. Any other callback (none in bolt) goes to _more_callbacks and is scheduled.
        self._callback: Callback | None = None
        self._context: Context | None = None
        self._more_callbacks: list[tuple[Callback, Context]] | None = None
        self._cancel_message: object = None
        # Where the await is: the first __next__ yielded self; the second one ended the await.
        self._yielded = False
        self._consumed = False
        # Set by result(): the pure twin's way to tell that context.run() did call the wake-up.
        self._taken = False
        self._asyncio_future_blocking = False

    # What the stream calls

    def wake(self) -> None:
        """Finish with result None (unless already done) and resume the awaiting task.

        Directly, in the task's context, when no task is running on the loop (a read callback,
        the common case): the Handle ``call_soon`` would make runs the same call one loop iteration
        later. Inside a running task the wake-up is scheduled instead, as ``set_result()`` does:
        asyncio refuses to enter a task while another one is being executed."""
        if self._state != PENDING:
            return
        self._state = FINISHED
        callback = self._callback
        if callback is None:
            return
        context = self._context
        assert context is not None  # set with the callback
        self._callback = self._context = None
        if self._more_callbacks is not None:
            self._schedule_more()
        loop = self._loop
        if current_task(loop) is not None:
            loop.call_soon(callback, self, context=context)
            return
        self._taken = False
        try:
            context.run(callback, self)
        except (SystemExit, KeyboardInterrupt) as exc:
            # The task's step re-raises these (after finishing the task with them) to stop the
            # loop. Not out of the read callback, where uvloop takes any exception for the
            # transport's fatal error and only logs it: from a Handle, as when the wake-up was one.
            loop.call_soon(_reraise, exc)
        except BaseException as exc:
            if isinstance(exc, RuntimeError) and not self._taken:
                # The context could not be entered (it already is, somewhere up this stack): the
                # task's wake-up, whose first act is result(), did not run. Schedule it instead.
                loop.call_soon(callback, self, context=context)
                return
            # What asyncio's Handle._run does with a callback's exception. The task's own
            # exceptions never come here: its step catches them and finishes the task with them.
            loop.call_exception_handler(
                {"message": f"Exception in callback {callback!r}", "exception": exc, "future": self}
            )

    def rearm(self) -> bool:
        """Make the waiter pending for another await; False if it cannot be reused.

        Only a waiter whose await ran to its end (the second ``__next__``) is re-armed: by then the
        task has called ``result()`` (``task_wakeup``) and dropped it as its ``_fut_waiter``, so no
        one can look at the old result any more. A cancelled waiter, or one finished but not yet
        taken, is left to whoever still holds it, and the stream allocates a new one."""
        if not self._consumed:
            return False
        self._state = PENDING
        self._yielded = False
        self._consumed = False
        return True

    # asyncio.Future's protocol, as asyncio's Task uses it

    def get_loop(self) -> AbstractEventLoop:
        return self._loop

    def done(self) -> bool:
        return self._state != PENDING

    def cancelled(self) -> bool:
        return self._state == CANCELLED

    def result(self) -> None:
        if self._state == FINISHED:
            self._taken = True
            return None
        if self._state == CANCELLED:
            raise self._cancelled_error()
        raise InvalidStateError("Result is not set.")

    def exception(self) -> BaseException | None:
        if self._state == FINISHED:
            return None
        if self._state == CANCELLED:
            raise self._cancelled_error()
        raise InvalidStateError("Exception is not set.")

    def set_result(self, result: None) -> None:
        """Finish (the result is always None) and schedule the callbacks, as asyncio.Future does."""
        if self._state != PENDING:
            raise InvalidStateError("invalid state")
        self._state = FINISHED
        self._schedule_callbacks()

    def cancel(self, msg: object = None) -> bool:
        """What ``task.cancel()`` calls: the wake-up is scheduled, as asyncio.Future does, and
        ``result()`` then raises CancelledError into the awaiting coroutine."""
        if self._state != PENDING:
            return False
        self._state = CANCELLED
        self._cancel_message = msg
        self._schedule_callbacks()
        return True

    def add_done_callback(self, fn: Callback, *, context: Context | None = None) -> None:
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

    def remove_done_callback(self, fn: Callback) -> int:
        removed = 0
        if self._callback is not None and self._callback == fn:
            removed = 1
            self._callback = self._context = None
        if self._more_callbacks:
            kept = [(f, c) for f, c in self._more_callbacks if f != fn]
            removed += len(self._more_callbacks) - len(kept)
            self._more_callbacks = kept or None
        if self._callback is None and self._more_callbacks:
            self._callback, self._context = self._more_callbacks.pop(0)
        return removed

    def __await__(self) -> Generator[Any, None, None]:
        # An iterator, as asyncio.Future's C implementation returns, not a generator: the Task
        # only ever calls send(None), which ``await`` turns into __next__ (typed as what it does).
        return self  # type: ignore[return-value]  # an iterator is all ``await`` needs

    def __iter__(self) -> Waiter:
        return self

    def __next__(self) -> Waiter:
        # asyncio.Future.__await__ as an iterator: yield self once, then end with the result.
        if not self._yielded:
            self._yielded = True
            if self._state == PENDING:
                self._asyncio_future_blocking = True
                return self
        elif self._state == PENDING:
            raise RuntimeError("await wasn't used with future")
        self._consumed = True
        self.result()
        raise StopIteration

    # Internals

    def _cancelled_error(self) -> CancelledError:
        if self._cancel_message is None:
            return CancelledError()
        return CancelledError(self._cancel_message)

    def _schedule_callbacks(self) -> None:
        callback = self._callback
        if callback is not None:
            self._loop.call_soon(callback, self, context=self._context)
            self._callback = self._context = None
        if self._more_callbacks is not None:
            self._schedule_more()

    def _schedule_more(self) -> None:
        more, self._more_callbacks = self._more_callbacks, None
        for fn, context in more or ():
            self._loop.call_soon(fn, self, context=context)

    def __repr__(self) -> str:
        state = ("pending", "finished", "cancelled")[self._state]
        return f"<bolt Waiter {state}>"
