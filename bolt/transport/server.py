"""The asyncio server: listening sockets, the set of open sessions, admission, graceful shutdown."""

from __future__ import annotations

import asyncio
import socket
import ssl as ssl_module

from bolt.close_codes import CloseCode
from bolt.protocol.connection import State
from bolt.transport.server_session import App, ServerSession
from bolt.transport.settings import Settings
from bolt.transport.stream import logger


class Server:
    """Serves ``app`` (an async callable taking a ``ServerSession``) on one or more sockets."""

    def __init__(self, app: App, settings: Settings | None = None, *, ssl: ssl_module.SSLContext | None = None) -> None:
        self.app = app
        self.settings = settings or Settings()
        self.ssl = ssl
        self.sessions: set[ServerSession] = set()
        self._servers: list[asyncio.AbstractServer] = []
        self._shutting_down = False

    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        sock: socket.socket | None = None,
        reuse_port: bool = False,
        backlog: int = 2048,
    ) -> list[tuple]:
        """Listen, and return the addresses bound (port 0 picks a free port).

        An application with a ``prepare()`` method has it called first: an exception there (a
        missing JWT secret) refuses to start, before any socket is bound.
        """
        prepare = getattr(self.app, "prepare", None)
        if prepare is not None:
            prepare()
        loop = asyncio.get_running_loop()
        if sock is not None:
            server = await loop.create_server(lambda: ServerSession(self), sock=sock, ssl=self.ssl, backlog=backlog)
        else:
            server = await loop.create_server(
                lambda: ServerSession(self), host, port, ssl=self.ssl, reuse_port=reuse_port or None, backlog=backlog
            )
        self._servers.append(server)
        return [s.getsockname() for s in server.sockets]

    @property
    def addresses(self) -> list[tuple]:
        return [s.getsockname() for server in self._servers for s in server.sockets]

    def _admit(self, session: ServerSession) -> bool:
        limit = self.settings.max_connections
        if self._shutting_down or (limit is not None and len(self.sessions) >= limit):
            return False
        self.sessions.add(session)
        return True

    def _forget(self, session: ServerSession) -> None:
        self.sessions.discard(session)

    async def shutdown(self, timeout: float | None = None, code: int = CloseCode.GOING_AWAY) -> None:
        """Stop accepting, close every open connection with ``code`` (1001), and wait for them.

        Connections and handlers still running after ``timeout`` (the settings' shutdown timeout)
        are dropped and cancelled.
        """
        timeout = self.settings.shutdown_timeout if timeout is None else timeout
        self._shutting_down = True
        for server in self._servers:
            server.close()
        sessions = list(self.sessions)
        for session in sessions:
            if session.state is State.OPEN and not session.closed:
                session.transport.write(session.connection.send_close(code, "server shutting down"))
                session._start_close_timer()
            elif session.state is State.CONNECTING and not session.closed:
                session.respond(503, "Server shutting down")
        waits = [session.wait_closed() for session in sessions]
        waits += [session.task for session in sessions if session.task is not None]
        if waits:
            done, pending = await asyncio.wait([asyncio.ensure_future(w) for w in waits], timeout=timeout)
            for future in pending:
                future.cancel()
        for session in sessions:
            if not session.closed:
                session.transport.abort()
            if session.task is not None and not session.task.done():
                session.task.cancel()
        for server in self._servers:
            await server.wait_closed()
        logger.info("server stopped")

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.shutdown()
