"""Running a server as a process: the event loop (uvloop when installed), SIGINT/SIGTERM for a
graceful shutdown, and worker processes that share the port with SO_REUSEPORT."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import ssl as ssl_module
import sys
from collections.abc import Sequence
from typing import Any

from bolt.transport.endpoints import check as check_transport
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


def _serve_in_process(app: Any, host: str, port: int, ssl: ssl_module.SSLContext | None, reuse_port: bool, loop_kind: str, log_level: str) -> None:
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
    """Serve ``app`` in this process, or in ``workers`` processes sharing the port.

    The app is prepared here, once, before any worker is forked: an app that cannot be served (a
    JWT route without a secret) raises ``ConfigurationError`` to the caller, rather than in every
    worker. A worker that exits when no shutdown was asked for is logged with its pid and exit
    status, the other workers are stopped, and ``SystemExit(1)`` ends this process, so whatever
    supervises it sees the failure.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    prepare = getattr(app, "prepare", None)
    if prepare is not None:
        prepare()
    check_transport((getattr(app, "settings", None) or Settings()).transport)
    broker = getattr(app, "broker", None)
    if workers > 1 and broker is not None and not broker.spans_processes:
        configure_logging(log_level)
        logger.warning(
            "%d workers with the in-process broker: broadcast groups do not span workers (each worker "
            "reaches only its own members); give a broker that does, such as --broker redis://127.0.0.1:6379/0",
            workers,
        )
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
    if not _supervise(processes):
        raise SystemExit(1)


def _supervise(processes: Sequence[multiprocessing.process.BaseProcess]) -> bool:
    """Wait for the workers to end; False if one ended before a shutdown was asked for."""
    stopping = False

    def stop(signum: int | None = None, frame: Any = None) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            # is_alive() reaps a worker that has exited, so its pid is never signalled after reuse.
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)  # type: ignore[arg-type]  # started: it has a pid

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    healthy = True
    running = list(processes)
    while running:
        multiprocessing.connection.wait([process.sentinel for process in running])
        for process in [process for process in running if not process.is_alive()]:
            running.remove(process)
            if not stopping:
                # Not alive any more: it has an exit code.
                logger.error("worker %d %s: stopping the other workers", process.pid, _exit_status(process.exitcode))  # type: ignore[arg-type]
                healthy = False
                stop()
    return healthy


def _exit_status(exitcode: int) -> str:
    """How a worker ended: multiprocessing reports death by a signal as its negated number."""
    return f"was killed by signal {-exitcode}" if exitcode < 0 else f"exited with code {exitcode}"
