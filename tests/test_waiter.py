"""The receive waiter (bolt/_pure/waiter.py, bolt/_speedups/waiter.pyx): a message resumes the
handler's task inside the read callback, not one loop iteration later, and everything asyncio's
Task does with a Future still holds: cancellation, ``wait_for`` and ``asyncio.timeout``, the
context, exceptions, a second receiver. First the waiter alone, on each loop and codec; then a
stream on a fake transport (the synchronous resume observed, and what the handler may do inside
it); then real connections on every loop variant."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from bolt import BoltAPI, ConcurrencyError, WebSocket, WebSocketDisconnect
from bolt.protocol.connection import Connection
from bolt.testing import AsyncTestClient
from bolt.transport.settings import Settings
from bolt.transport.stream import WebSocketStream
from tests.conformance.client import BINARY, CLOSE, TEXT, Until, close_frame, exchange, frame
from tests.conftest import load_module

LOOP_KINDS = ["asyncio", "uvloop"]


@pytest.fixture(params=["compiled", "pure"])
def Waiter(request):
    return load_module(request.param, "waiter").Waiter


@pytest.fixture(params=LOOP_KINDS)
def on_loop(request):
    """Run a coroutine on a fresh loop of each kind (no transport here: the waiter alone)."""
    from tests.conftest import loop_runner

    return loop_runner(request.param)


# 1. The waiter alone


def test_a_wake_from_a_callback_resumes_the_task_before_it_returns(on_loop, Waiter):
    async def main():
        loop = asyncio.get_running_loop()
        waiter = Waiter(loop)
        steps = []
        variable = contextvars.ContextVar("variable", default="outside")

        async def waiting():
            variable.set("the task's")
            steps.append("waiting")
            result = await waiter
            steps.append(("resumed", result, variable.get(), asyncio.current_task() is task))

        task = asyncio.ensure_future(waiting())
        await asyncio.sleep(0)
        assert waiter._asyncio_future_blocking is False and not waiter.done()

        def callback():
            waiter.wake()
            steps.append("wake returned")

        loop.call_soon(callback)
        await task
        return steps

    assert on_loop(main()) == ["waiting", ("resumed", None, "the task's", True), "wake returned"]


def test_a_wake_inside_a_running_task_is_scheduled(on_loop, Waiter):
    async def main():
        waiter = Waiter(asyncio.get_running_loop())
        steps = []

        async def waiting():
            await waiter
            steps.append("resumed")

        task = asyncio.ensure_future(waiting())
        await asyncio.sleep(0)
        waiter.wake()  # this task is running: asyncio cannot enter another one now
        steps.append("wake returned")
        await task
        return steps

    assert on_loop(main()) == ["wake returned", "resumed"]


def test_a_wake_inside_the_tasks_own_context_is_scheduled(on_loop, Waiter):
    async def main():
        loop = asyncio.get_running_loop()
        waiter = Waiter(loop)
        steps = []
        context = contextvars.copy_context()

        async def waiting():
            await waiter
            steps.append("resumed")

        task = loop.create_task(waiting(), context=context)
        await asyncio.sleep(0)

        def callback():
            context.run(waiter.wake)  # that context cannot be entered twice: no direct resume
            steps.append("wake returned")

        loop.call_soon(callback)
        await task
        return steps

    assert on_loop(main()) == ["wake returned", "resumed"]


def test_cancelling_the_task_cancels_the_waiter(on_loop, Waiter):
    async def main():
        waiter = Waiter(asyncio.get_running_loop())
        task = asyncio.ensure_future(_await(waiter))
        await asyncio.sleep(0)
        task.cancel("stop")
        with pytest.raises(asyncio.CancelledError):
            await task
        assert waiter.cancelled() and waiter.done()
        with pytest.raises(asyncio.CancelledError):
            waiter.result()
        waiter.wake()  # a wake after the cancel changes nothing
        assert waiter.cancelled()
        assert not waiter.rearm()  # the await did not end by its result: not reused

    on_loop(main())


async def _await(waiter):
    return await waiter


def test_a_waiter_is_rearmed_only_once_its_await_is_over(on_loop, Waiter):
    async def main():
        loop = asyncio.get_running_loop()
        waiter = Waiter(loop)
        assert not waiter.rearm()  # never awaited
        task = asyncio.ensure_future(_await(waiter))
        await asyncio.sleep(0)
        waiter.set_result(None)  # finished, the task's wake-up scheduled, not run
        assert waiter.done() and not waiter.rearm()
        assert await task is None
        assert waiter.rearm() and not waiter.done()
        task = asyncio.ensure_future(_await(waiter))
        await asyncio.sleep(0)
        loop.call_soon(waiter.wake)
        assert await task is None

    on_loop(main())


def test_an_exception_raised_by_the_resumed_task_ends_in_the_task(on_loop, Waiter):
    async def main():
        loop = asyncio.get_running_loop()
        waiter = Waiter(loop)
        handler_errors = []
        loop.set_exception_handler(lambda loop, context: handler_errors.append(context))

        async def failing():
            await waiter
            raise ValueError("raised while resumed")

        task = asyncio.ensure_future(failing())
        await asyncio.sleep(0)
        returned = loop.create_future()

        def callback():
            waiter.wake()
            returned.set_result("wake returned")

        loop.call_soon(callback)
        assert await returned == "wake returned"
        with pytest.raises(ValueError, match="raised while resumed"):
            await task
        assert handler_errors == []

    on_loop(main())


@pytest.mark.parametrize("loop_kind", LOOP_KINDS)
def test_system_exit_in_the_resumed_task_stops_the_loop(loop_kind, Waiter):
    """As when the wake-up was a Handle: not swallowed by the read callback (uvloop would log it
    as the transport's fatal error), and the task is finished with it."""
    from bolt.transport.run import new_event_loop

    try:
        loop = new_event_loop(loop_kind)
    except ImportError:
        pytest.skip(f"{loop_kind} is not installed")
    waiter = Waiter(loop)

    async def exiting():
        await waiter
        raise SystemExit(3)

    try:
        task = loop.create_task(exiting())
        loop.run_until_complete(asyncio.sleep(0))
        loop.call_soon(waiter.wake)
        with pytest.raises(SystemExit):
            loop.run_until_complete(asyncio.sleep(1))
        assert task.done()
        assert isinstance(task.exception(), SystemExit)  # retrieved: no "never retrieved" at exit
    finally:
        loop.close()


def test_the_python_task_takes_the_waiter_too(on_loop, Waiter):
    """asyncio's pure-Python Task (Lib/asyncio/tasks.py, a task factory may use it) speaks the same
    protocol as the C one: cancel(msg=...) by keyword, __wakeup by name."""

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_task_factory(lambda loop, coro, **options: asyncio.tasks._PyTask(coro, loop=loop, **options))
        waiter = Waiter(loop)
        steps = []

        async def waiting():
            await waiter
            steps.append("resumed")

        task = asyncio.ensure_future(waiting())
        assert type(task) is asyncio.tasks._PyTask
        await asyncio.sleep(0)
        loop.call_soon(lambda: (waiter.wake(), steps.append("wake returned")))
        await task
        cancelled = asyncio.ensure_future(_await(Waiter(loop)))
        await asyncio.sleep(0)
        cancelled.cancel("stop")
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        loop.set_task_factory(None)
        return steps

    assert on_loop(main()) == ["resumed", "wake returned"]


def test_wait_for_and_timeout_around_a_waiter(on_loop, Waiter):
    async def main():
        loop = asyncio.get_running_loop()
        waiter = Waiter(loop)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(_await(waiter), 0.01)
        assert waiter.cancelled()
        waiter = Waiter(loop)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await waiter
        assert waiter.cancelled()
        # And a waiter woken in time, through wait_for's inner task.
        waiter = Waiter(loop)
        loop.call_later(0.01, waiter.wake)
        assert await asyncio.wait_for(_await(waiter), 5) is None

    on_loop(main())


def test_the_future_protocol(on_loop, Waiter):
    async def main():
        loop = asyncio.get_running_loop()
        waiter = Waiter(loop)
        assert waiter.get_loop() is loop and asyncio.isfuture(waiter)
        with pytest.raises(asyncio.InvalidStateError):
            waiter.result()
        with pytest.raises(asyncio.InvalidStateError):
            waiter.exception()
        seen = []
        waiter.add_done_callback(seen.append)
        waiter.add_done_callback(lambda w: seen.append("second"))
        assert waiter.remove_done_callback(seen.append) == 1
        waiter.set_result(None)
        with pytest.raises(asyncio.InvalidStateError):
            waiter.set_result(None)
        assert not waiter.cancel()
        await asyncio.sleep(0)
        assert seen == ["second"] and waiter.result() is None and waiter.exception() is None
        done = Waiter(loop)
        done.cancel()
        done.add_done_callback(seen.append)  # added once done: scheduled at once
        await asyncio.sleep(0)
        assert seen[-1] is done

    on_loop(main())


# 2. A stream on a fake transport: the handler runs inside buffer_updated()


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.paused = False
        self.closed = False

    def write(self, data) -> None:
        self.written.append(bytes(data))

    def set_write_buffer_limits(self, high=None, low=None) -> None:
        pass

    def set_protocol(self, protocol) -> None:
        pass

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True


class Stream(WebSocketStream):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.connection = Connection()


@pytest.fixture
def stream_run(on_loop, codec):
    return on_loop


def _client_frames(*messages: bytes) -> bytes:
    from bolt import codec

    writer = codec.FrameWriter(client=True)
    return b"".join(writer.binary(message) for message in messages)


async def _stream(**settings):
    stream = Stream(Settings(ping_interval=None, **settings))
    transport = FakeTransport()
    stream.connection_made(transport)
    stream._start_frames()
    return stream, transport


def _feed(stream: WebSocketStream, data: bytes) -> None:
    view = stream.get_buffer(-1)
    view[: len(data)] = data
    del view
    stream.buffer_updated(len(data))


def _from_a_callback(function, *args):
    """Run ``function`` as the loop runs a read callback (no task running); return its result."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.call_soon(lambda: done.set_result(function(*args)))
    return done


def test_the_handler_runs_inside_buffer_updated_and_two_messages_in_one_read(stream_run):
    async def main():
        stream, transport = await _stream()
        log = []

        async def handler():
            async for message in stream:
                log.append(("received", message))
                stream.send_bytes(message)

        task = asyncio.ensure_future(handler())
        await asyncio.sleep(0)

        def read(data):
            _feed(stream, data)
            log.append("buffer_updated returned")

        await _from_a_callback(read, _client_frames(b"one"))
        # Two messages in one read: the first resume takes both, the second from the inbox.
        await _from_a_callback(read, _client_frames(b"two", b"three"))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return log, len(transport.written)

    log, written = stream_run(main())
    assert log == [
        ("received", b"one"),
        "buffer_updated returned",
        ("received", b"two"),
        ("received", b"three"),
        "buffer_updated returned",
    ]
    assert written == 3


def test_a_handler_that_closes_inside_the_resume(stream_run):
    async def main():
        stream, _ = await _stream()
        outcome = {}

        async def handler():
            outcome["message"] = await stream.receive()
            stream.start_closing(1000, "bye")  # inside buffer_updated
            try:
                await stream.receive()
            except WebSocketDisconnect as disconnect:
                outcome["disconnect"] = disconnect.code

        task = asyncio.ensure_future(handler())
        await asyncio.sleep(0)
        await _from_a_callback(_feed, stream, _client_frames(b"last"))
        assert outcome == {"message": b"last"} and stream.state.name == "CLOSING"
        # The peer's close frame: the handler, waiting again, learns the connection is over.
        from bolt import codec

        await _from_a_callback(_feed, stream, codec.FrameWriter(client=True).close(1000, ""))
        await task
        return outcome

    assert stream_run(main()) == {"message": b"last", "disconnect": 1000}


def test_cancelling_a_receive_and_receiving_again(stream_run):
    async def main():
        stream, _ = await _stream()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(stream.receive(), 0.01)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await stream.receive()
        receiving = asyncio.ensure_future(stream.receive())
        await asyncio.sleep(0)
        receiving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await receiving
        # None of these left a receiver behind, and the next message reaches the next receive().
        receiving = asyncio.ensure_future(stream.receive())
        await asyncio.sleep(0)
        await _from_a_callback(_feed, stream, _client_frames(b"after"))
        assert receiving.done()  # resumed inside the read callback
        return await receiving

    assert stream_run(main()) == b"after"


def test_a_second_receiver_fails_and_the_first_still_gets_the_message(stream_run):
    async def main():
        stream, _ = await _stream()
        first = asyncio.ensure_future(stream.receive())
        await asyncio.sleep(0)
        with pytest.raises(ConcurrencyError):
            await stream.receive("receive_text()")
        await _from_a_callback(_feed, stream, _client_frames(b"for the first"))
        return await first

    assert stream_run(main()) == b"for the first"


def test_a_handler_that_raises_inside_the_resume(stream_run):
    async def main():
        stream, _ = await _stream()
        loop = asyncio.get_running_loop()
        errors = []
        loop.set_exception_handler(lambda loop, context: errors.append(context))

        async def handler():
            await stream.receive()
            raise ValueError("the handler's bug")

        task = asyncio.ensure_future(handler())
        await asyncio.sleep(0)
        await _from_a_callback(_feed, stream, _client_frames(b"x"))
        assert task.done()
        with pytest.raises(ValueError, match="the handler's bug"):
            await task
        return errors

    assert stream_run(main()) == []


def test_a_full_inbox_pauses_reading_before_the_handler_runs(stream_run):
    async def main():
        stream, transport = await _stream(inbox_size=2)
        seen = []

        async def handler():
            seen.append((await stream.receive(), transport.paused))
            await asyncio.sleep(3600)

        task = asyncio.ensure_future(handler())
        await asyncio.sleep(0)
        await _from_a_callback(_feed, stream, _client_frames(b"a", b"b", b"c"))
        task.cancel()
        return seen, transport.paused

    # The handler took one message while reading was paused; two are left, the limit: still paused.
    assert stream_run(main()) == ([(b"a", True)], True)


# 3. Real connections, on every loop variant


@pytest.fixture
def run(run, codec):
    return run


def test_two_messages_in_one_read_are_both_echoed(run):
    api = BoltAPI()

    @api.websocket("/echo")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        async for message in websocket:
            await websocket.send(message)

    async def main():
        async with AsyncTestClient(api) as client:
            return await exchange(
                client.port, frame(TEXT, b"one") + frame(BINARY, b"two"), Until(messages=2), close_frame(1000)
            )

    answer = run(main())
    assert answer.messages == [(TEXT, b"one"), (BINARY, b"two")]
    assert answer.frames[-1].opcode == CLOSE and answer.close_code == 1000


def test_receive_under_wait_for_and_timeout_then_messages_still_arrive(run):
    api = BoltAPI()
    outcome = []

    @api.websocket("/patient")
    async def patient(websocket: WebSocket):
        await websocket.accept()
        for _ in range(2):
            try:
                await asyncio.wait_for(websocket.receive(), 0.01)
            except asyncio.TimeoutError:
                outcome.append("wait_for timed out")
        try:
            async with asyncio.timeout(0.01):
                await websocket.receive()
        except TimeoutError:
            outcome.append("timeout")
        await websocket.send_text("ready")
        async for message in websocket:
            outcome.append(message)
            await websocket.send(message)

    async def main():
        async with AsyncTestClient(api) as client:
            async with client.websocket_connect("/patient") as ws:
                assert await ws.receive_text() == "ready"
                for text in ("a", "b"):
                    await ws.send_text(text)
                    assert await asyncio.wait_for(ws.receive_text(), 5) == text
                # The client's receive() under wait_for too: nothing comes, then the echo does.
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(ws.receive(), 0.01)
                await ws.send_text("c")
                assert await ws.receive_text() == "c"

    run(main())
    assert outcome == ["wait_for timed out", "wait_for timed out", "timeout", "a", "b", "c"]


def test_a_handler_closing_right_after_a_message(run):
    api = BoltAPI()

    @api.websocket("/once")
    async def once(websocket: WebSocket):
        await websocket.accept()
        message = await websocket.receive_text()
        await websocket.send_text(message)
        await websocket.close(4000, "done")

    async def main():
        async with AsyncTestClient(api) as client:
            return await exchange(client.port, frame(TEXT, b"hello"), Until(messages=1), close_frame(4000), path="/once")

    answer = run(main())
    assert answer.messages == [(TEXT, b"hello")], answer.describe()
    assert answer.close_code == 4000 and answer.close_reason == b"done"


def test_a_handler_raising_right_after_a_message_closes_with_1011(run):
    api = BoltAPI()

    @api.websocket("/bug")
    async def bug(websocket: WebSocket):
        await websocket.accept()
        await websocket.receive()
        raise RuntimeError("the handler's bug")

    async def main():
        async with AsyncTestClient(api) as client:
            return await exchange(client.port, frame(TEXT, b"x"), path="/bug")

    answer = run(main())
    assert answer.close_code == 1011, answer.describe()
