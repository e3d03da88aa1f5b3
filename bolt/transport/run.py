"""Running a server as a process: the event loop (uvloop when installed), SIGINT/SIGTERM for a
graceful shutdown, and worker processes that share the port with SO_REUSEPORT."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import ssl as ssl_module
import sys
from typing import Any

from bolt.transport.server import Server
from bolt.transport.settings import Settings
from bolt.transport.stream import logger


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def new_event_loop(kind: str = "auto") -> asyncio.AbstractEventLoop:
    """``kind`` is "uvloop", "asyncio" or "auto" (uvloop when installed)."""
    if kind in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if kind == "uvloop":
                raise
        else:
            return uvloop.new_event_loop()
    if kind not in ("auto", "asyncio", "uvloop"):
        raise ValueError(f"loop is 'auto', 'uvloop' or 'asyncio', not {kind!r}")
    return asyncio.new_event_loop()


async def serve(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    ssl: ssl_module.SSLContext | None = None,
    reuse_port: bool = False,
    settings: Settings | None = None,
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, then shut down gracefully (close 1001, drain)."""
    settings = settings or getattr(app, "settings", None) or Settings()
    server = Server(app, settings, ssl=ssl)
    addresses = await server.start(host, port, reuse_port=reuse_port)
    scheme = "wss" if ssl else "ws"
    for address in addresses:
        logger.info("bolt serving on %s://%s:%s (pid %s)", scheme, address[0], address[1], os.getpid())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        logger.info("shutting down: closing %d connections with 1001", len(server.sessions))
        await server.shutdown()


def _serve_in_process(app: Any, host: str, port: int, ssl, reuse_port: bool, loop_kind: str, log_level: str) -> None:
    configure_logging(log_level)
    loop = new_event_loop(loop_kind)
    try:
        loop.run_until_complete(serve(app, host, port, ssl=ssl, reuse_port=reuse_port))
    finally:
        loop.close()


def run(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    workers: int = 1,
    loop: str = "auto",
    ssl: ssl_module.SSLContext | None = None,
    log_level: str = "info",
) -> None:
    """Serve ``app`` in this process, or in ``workers`` processes sharing the port."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if workers == 1:
        _serve_in_process(app, host, port, ssl, False, loop, log_level)
        return
    if sys.platform == "win32":
        raise RuntimeError("workers > 1 needs SO_REUSEPORT, which Windows does not have")
    configure_logging(log_level)
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=_serve_in_process, args=(app, host, port, ssl, True, loop, log_level), daemon=False)
        for _ in range(workers)
    ]
    for process in processes:
        process.start()

    def forward(signum, frame) -> None:
        for process in processes:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    for process in processes:
        process.join()
