"""The asyncio server: listening sockets, the set of open sessions, admission, graceful shutdown.

The server owns its sessions and their application tasks; a session knows the server only as its
``SessionHost`` (``admit``, ``release``, ``settings``, ``app``), so the two modules import one way.
"""

from __future__ import annotations

import asyncio
import socket
import ssl as ssl_module
from typing import Any

from bolt.close_codes import CloseCode
from bolt.protocol.connection import State
from bolt.transport.access import AccessLog
from bolt.transport.endpoints import create_server
from bolt.transport.proxies import TrustedProxies
from bolt.transport.server_session import App, ServerSession
from bolt.transport.settings import Settings
from bolt.transport.stream import logger

# After the shutdown timeout, how long cancelled handlers get to run their ``finally`` blocks.
CANCEL_GRACE = 1.0


class Server:
    """Serves ``app`` (an async callable taking a ``ServerSession``) on one or more sockets."""

    def __init__(self, app: App, settings: Settings | None = None, *, ssl: ssl_module.SSLContext | None = None) -> None:
        self.app = app
        self.settings = settings or Settings()
        deflate = self.settings.deflate(client=False)
        self.extensions = [deflate] if deflate is not None else []
        self.ssl = ssl
        self.sessions: set[ServerSession] = set()
        # Every session whose application task may still run, including those whose client left.
        self._running: set[ServerSession] = set()
        self._servers: list[asyncio.Server] = []
        self._shutting_down = False
        self._started_app = False
        self.access_log = None if self.settings.access_log == "off" else AccessLog(self.settings.access_log)
        self.proxies = TrustedProxies(self.settings.trusted_proxies) if self.settings.trusted_proxies else None
        self._app_answered = getattr(app, "answered", None)
        # What each connection is: a WebSocket server session, or the app's own kind (an ASGI app's
        # serves HTTP/1.1 requests too, see bolt.transport.asgi_host).
        self._session_class: type[ServerSession] = getattr(app, "session_class", ServerSession)

    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        sock: socket.socket | None = None,
        reuse_port: bool = False,
        backlog: int = 2048,
    ) -> list[tuple[Any, ...]]:
        """Listen, and return the addresses bound (port 0 picks a free port).

        An application with a ``prepare()`` method has it called first: an exception there (a
        missing JWT secret) refuses to start, before any socket is bound. Then its ``startup()``
        (the broker, the startup hooks), also before listening; its ``shutdown()`` is awaited at
        the end of ``shutdown()``.
        """
        prepare = getattr(self.app, "prepare", None)
        if prepare is not None:
            prepare()
        if not self._started_app:
            startup = getattr(self.app, "startup", None)
            if startup is not None:
                await startup()
            self._started_app = True
        transport = self.settings.transport
        try:
            if sock is not None:
                server = await create_server(
                    transport, lambda: self._session_class(self), sock=sock, ssl=self.ssl, backlog=backlog
                )
            else:
                server = await create_server(
                    transport,
                    lambda: self._session_class(self),
                    host,
                    port,
                    ssl=self.ssl,
                    reuse_port=reuse_port or None,
                    backlog=backlog,
                )
        except BaseException:
            if not self._servers:
                await self._shut_app_down()
            raise
        self._servers.append(server)
        return [s.getsockname() for s in server.sockets]

    async def _shut_app_down(self) -> None:
        if self._started_app:
            self._started_app = False
            shutdown = getattr(self.app, "shutdown", None)
            if shutdown is not None:
                await shutdown()

    @property
    def addresses(self) -> list[tuple[Any, ...]]:
        return [s.getsockname() for server in self._servers for s in server.sockets]

    def listening_sockets(self) -> list[socket.socket]:
        return [s for server in self._servers for s in server.sockets]

    def stop_listening(self) -> None:
        """Close the listening sockets (connections already made go on)."""
        for server in self._servers:
            server.close()

    # SessionHost

    def admit(self, session: ServerSession) -> bool:
        """A new connection: is there room for it (and are we still serving)?"""
        limit = self.settings.max_connections
        if self._shutting_down or (limit is not None and len(self.sessions) >= limit):
            return False
        self.sessions.add(session)
        self._running.add(session)
        return True

    def answered(self, session: ServerSession, status: int) -> None:
        """An HTTP answer leaves (the 101 or a refusal): the access log's line, and the app's
        ``answered(session, status)`` if it has one (BoltAPI counts them for its metrics)."""
        if self.access_log is not None:
            request = session.request
            method, path = (request.method, request.path) if request is not None else ("-", "-")
            self.access_log.handshake(session.client, method, path, status, session.user_id)
        if self._app_answered is not None:
            self._app_answered(session, status)

    def release(self, session: ServerSession) -> None:
        """The connection's TCP is closed; its application task may still be finishing."""
        self.sessions.discard(session)
        if session.task is None or session.task.done():
            self._running.discard(session)
        else:
            session.task.add_done_callback(lambda _: self._running.discard(session))

    # Shutdown

    async def shutdown(self, timeout: float | None = None, code: int = CloseCode.GOING_AWAY) -> None:
        """Stop accepting, close every open connection with ``code`` (1001), and wait for them.

        A handler whose client already left is cancelled at once: there is no one to finish for.
        Connections and handlers still running after ``timeout`` (the settings' shutdown timeout)
        are dropped and cancelled, and the cancelled handlers are awaited, so that their
        ``finally`` blocks run before this returns.
        """
        timeout = self.settings.shutdown_timeout if timeout is None else timeout
        self._shutting_down = True
        self.stop_listening()
        sessions = list(self._running)
        for session in sessions:
            if session.closed:
                if session.task is not None:
                    session.task.cancel()
            elif session.state is State.CONNECTING:
                session.respond(503, "Server shutting down")
            else:
                session.start_closing(code, "server shutting down")
        waits = [asyncio.ensure_future(session.wait_closed()) for session in sessions]
        tasks = [session.task for session in sessions if session.task is not None]
        if waits or tasks:
            _, pending = await asyncio.wait(waits + tasks, timeout=timeout)
            for future in pending:
                future.cancel()
        for session in sessions:
            session.abort()
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=CANCEL_GRACE)
            for task in stuck:
                logger.warning("a handler did not finish after being cancelled at shutdown: %r", task)
        for server in self._servers:
            await server.wait_closed()
        await self._shut_app_down()
        logger.info("server stopped")

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()
