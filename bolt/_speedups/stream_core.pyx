# cython: language_level=3
"""The per-message path of one connection, compiled: the twin of ``bolt/_pure/stream_core.py``.

Same state, same rules in the same order, same errors as the pure module; read its docstrings for
the why. Compiled, a message crosses no Python frame between the socket and the handler's code:
the loop calls ``buffer_updated`` (a C method), which wakes the receive waiter (C), whose wake-up
resumes the handler inside ``receive()`` (a compiled coroutine, returning its message through
``am_send`` rather than an exception); the handler's send is a compiled coroutine too, which
frames the message (the codec) and hands it to the transport.
"""

cimport cython

from bolt._speedups.waiter cimport PENDING, Waiter

from bolt.exceptions import ConcurrencyError, ProtocolError
from bolt.protocol.connection import OPEN


@cython.final
cdef class StreamCore:
    """One connection's inbox, receive() and message sends (see bolt/_pure/stream_core.py)."""

    cdef public object stream
    cdef public object loop
    cdef public object connection
    cdef public object transport
    cdef public object parser
    cdef public object writer
    cdef public object inbox
    cdef public Py_ssize_t inbox_bytes
    cdef public Py_ssize_t inbox_limit
    cdef public Py_ssize_t inbox_byte_limit
    cdef public set read_blockers
    cdef public bint writing_paused
    cdef public bint lost
    cdef public bint rated
    cdef public bint vectored
    cdef public Waiter receiver
    cdef public Waiter spare_receiver
    cdef public str receiver_call

    def __init__(self, stream, Py_ssize_t inbox_limit, Py_ssize_t inbox_byte_limit, bint rated):
        from collections import deque

        self.stream = stream
        self.loop = stream.loop
        self.connection = None
        self.transport = None
        self.parser = None
        self.writer = None
        self.inbox = deque()
        self.inbox_bytes = 0
        self.inbox_limit = inbox_limit
        self.inbox_byte_limit = inbox_byte_limit
        self.read_blockers = set()
        self.writing_paused = False
        self.lost = False
        self.rated = rated
        self.vectored = False
        self.receiver = None
        self.spare_receiver = None
        self.receiver_call = ""

    def start(self):
        self.parser = self.connection.frame_parser
        self.writer = self.connection.frame_writer

    # Reading

    def buffer_updated(self, Py_ssize_t nbytes):
        connection = self.connection
        if connection.state is OPEN and connection.violation is None:
            parser = self.parser
            try:
                events = parser.buffer_updated(nbytes)
            except ProtocolError as error:
                events = connection.read_failed(error)
                self.stream._attend(events, nbytes)
                return
            if parser.control_frames > 0 or parser.more:
                connection.read_parsed(events)
                self.stream._attend(events, nbytes)
                return
        else:
            events = connection.buffer_updated(nbytes)
            if connection.needs_attention:
                self.stream._attend(events, nbytes)
                return
        if not events:
            return
        if self.rated:
            events = self.stream._rate_gate(events)
        inbox = self.inbox
        inbox.extend(events)
        cdef Py_ssize_t size = self.inbox_bytes
        for message in events:
            size += len(message)
        self.inbox_bytes = size
        if len(inbox) >= self.inbox_limit or size > self.inbox_byte_limit:
            self.stream._block_reading("inbox")
        cdef Waiter receiver = self.receiver
        if receiver is not None:
            self.receiver = None
            receiver.wake()

    async def receive(self, str call="receive()"):
        cdef Waiter receiver
        inbox = self.inbox
        while not inbox:
            connection = self.connection
            if connection.state is not OPEN or connection.violation is not None or self.lost:
                self.stream._check_receivable()
            receiver = self.receiver
            if receiver is not None and receiver._state == PENDING:
                raise ConcurrencyError(
                    f"{call} called while {self.receiver_call} is already waiting for a message on this "
                    "connection; receive from one task only"
                )
            receiver = self.spare_receiver
            if receiver is None or not receiver.rearm():
                receiver = self.spare_receiver = Waiter(self.loop)
            self.receiver = receiver
            self.receiver_call = call
            await receiver
        message = inbox.popleft()
        self.inbox_bytes -= len(message)
        if (
            self.read_blockers
            and len(inbox) <= self.inbox_limit // 2
            and self.inbox_bytes <= self.inbox_byte_limit // 2
        ):
            self.stream._caught_up()
        return message

    def __aiter__(self):
        return self

    def __anext__(self):
        return self.receive("async for")

    # Sending

    cpdef bint send_text(self, data, bint compress=True) except -1:
        if self.connection.state is not OPEN:
            raise self.stream._send_error()
        return self._write(self.writer.text(data, compress))

    cpdef bint send_bytes(self, data, bint compress=True) except -1:
        if self.connection.state is not OPEN:
            raise self.stream._send_error()
        return self._write(self.writer.binary(data, compress))

    async def send(self, data, bint compress=True):
        if self.send_text(data, compress) if isinstance(data, str) else self.send_bytes(data, compress):
            await self.stream.drain()

    cdef inline bint _write(self, frame) except -1:
        if type(frame) is bytes:
            self.transport.write(frame)
        elif self.vectored:
            self.transport.writelines(frame)
        else:
            header, payload = frame
            self.transport.write(header)
            self.transport.write(payload)
        return self.writing_paused
