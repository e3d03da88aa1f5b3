"""What every echo server script shares: its command line, its event loop, the READY line, and a
clean exit on SIGTERM/SIGINT.

Each server is started by run.py as ``python server_X.py --port N --loop asyncio|uvloop``, with
``--compress`` for the compressed benchmark (permessage-deflate on, the library's default settings;
off without it). It binds 127.0.0.1 only, prints ``READY <port>`` on stdout once it listens, and
runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

HOST = "127.0.0.1"
# Message and frame limits: well above the largest message the benchmark sends (1 MiB).
MAX_SIZE = 16 * 1024 * 1024

# bolt from this checkout, whatever the current directory.
REPO = Path(__file__).resolve().parent.parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--compress", action="store_true", help="accept permessage-deflate (default settings)")
    return parser.parse_args()


def new_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def closer(server) -> Callable[[], Awaitable[None]]:
    """The ``stop`` of a server that has ``close()`` and ``wait_closed()`` (asyncio's, and the
    libraries' own servers)."""

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    return stop


def run(kind: str, start: Callable[[], Awaitable[Callable[[], Awaitable[None]]]], port: int) -> None:
    """Run ``start()`` (which listens and returns an async ``stop``) on a fresh loop of ``kind``,
    say READY, wait for SIGTERM/SIGINT, then ``stop()``."""
    loop = new_loop(kind)
    asyncio.set_event_loop(loop)

    async def main() -> None:
        stop = await start()
        done = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, done.set)
        print(f"READY {port}", flush=True)
        await done.wait()
        try:
            await asyncio.wait_for(stop(), 3.0)
        except (asyncio.TimeoutError, Exception):
            pass

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
