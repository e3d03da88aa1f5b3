"""What the fan-out servers share: where they listen, the group's name, their command line.

Each server is started by run.py as ``python server_X.py --port N [--loop uvloop|asyncio]`` (and
``--redis URL`` for those with a broker), binds 127.0.0.1 only, and runs until SIGTERM; run.py
knows it is up when the port accepts a connection.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine
from pathlib import Path

# bolt from this checkout, whatever the current directory.
REPO = Path(__file__).resolve().parent.parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

HOST = "127.0.0.1"
PATH = "/bench"
GROUP = "bench"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")


def run(main: Coroutine, loop: str) -> None:
    if loop == "uvloop":
        import uvloop

        uvloop.run(main)
    else:
        asyncio.run(main)
