"""What an ``async`` handler costs per message before any WebSocket work: the floor under bolt's
``async for`` API, against a callback API such as picows' ``on_ws_frame``.

Run: ``python bench/bench_handoff.py`` (asyncio and uvloop, about 10 s; ``--messages N``,
``--repeats N``).

Two loops of N "messages", driven the same way (a callback scheduled with ``call_soon``, as a
loop schedules a socket's read callback), with nothing in them but the hand-off:

- **callback**: the driver calls a Python function with the message (picows' model);
- **task**: the driver wakes bolt's receive waiter (``bolt._speedups.waiter.Waiter``, the one
  ``receive()`` awaits), which resumes a task blocked in ``await`` right there, inside the
  callback; the task takes the message and awaits the re-armed waiter again (bolt's model: the
  handler is an asyncio task).

The difference is the task machinery per message: asyncio's ``Task`` stepping the coroutine, its
wake-up callback, entering and leaving the task, and the future protocol it speaks to the waiter
(``_asyncio_future_blocking``, ``get_loop()``, ``add_done_callback()``, ``result()``). No library
with an ``async`` handler on an asyncio task avoids it; bench/echo's ``picows-async`` pays it too.
Reported: wall time per message, best of the repeats (nothing here sleeps).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from bolt import codec  # noqa: E402
from bolt.transport.run import new_event_loop  # noqa: E402

if codec.IMPLEMENTATION == "compiled":
    from bolt._speedups.waiter import Waiter
else:
    from bolt._pure.waiter import Waiter  # type: ignore[assignment]


async def by_callback(loop: asyncio.AbstractEventLoop, messages: int) -> float:
    done = loop.create_future()
    received = 0

    def handler(message: bytes) -> None:
        nonlocal received
        received += 1

    def feed() -> None:
        handler(b"x")
        if received < messages:
            loop.call_soon(feed)
        else:
            done.set_result(None)

    start = time.perf_counter()
    loop.call_soon(feed)
    await done
    return (time.perf_counter() - start) / messages * 1e6


async def by_task(loop: asyncio.AbstractEventLoop, messages: int) -> float:
    done = loop.create_future()
    received = 0
    waiting: list[Waiter] = []

    async def handler() -> None:
        nonlocal received
        waiter = Waiter(loop)
        while True:
            if not waiter.rearm():
                waiter = Waiter(loop)
            waiting.append(waiter)
            await waiter
            received += 1

    def feed() -> None:
        waiting.pop().wake()
        if received < messages:
            loop.call_soon(feed)
        else:
            done.set_result(None)

    task = loop.create_task(handler())
    await asyncio.sleep(0)
    start = time.perf_counter()
    loop.call_soon(feed)
    await done
    elapsed = time.perf_counter() - start
    task.cancel()
    return elapsed / messages * 1e6


def measure(loop_kind: str, run, messages: int) -> float:
    loop = new_event_loop(loop_kind)
    try:
        return loop.run_until_complete(run(loop, messages))
    finally:
        loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loops", default="asyncio,uvloop")
    args = parser.parse_args()
    print(f"hand-off per message (waiter: {codec.IMPLEMENTATION}), best of {args.repeats}:")
    for loop_kind in args.loops.split(","):
        callback = min(measure(loop_kind, by_callback, args.messages) for _ in range(args.repeats))
        task = min(measure(loop_kind, by_task, args.messages) for _ in range(args.repeats))
        print(f"  {loop_kind:8} callback {callback:.3f} µs   task {task:.3f} µs   task's own cost {task - callback:.3f} µs")


if __name__ == "__main__":
    main()
