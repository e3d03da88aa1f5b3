"""The FastAPI echo (fastapi_echo.py) on one ASGI server, each started from its own command line:

    --server bolt                 python -m bolt fastapi_echo:app --asgi
    --server uvicorn-websockets   uvicorn with its websockets implementation
    --server uvicorn-wsproto      uvicorn with wsproto
    --server granian              granian --interface asgi (one worker process)

The server runs as this script's child (granian's worker as its grandchild); run.py counts the CPU
of the whole process tree. This script says READY once the port answers, and passes SIGTERM on."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def command(server: str, port: int, loop: str) -> list[str]:
    target = "fastapi_echo:app"
    if server == "bolt":
        return [sys.executable, "-m", "bolt", target, "--asgi", "--port", str(port), "--loop", loop, "--log-level", "warning"]
    if server.startswith("uvicorn-"):
        implementation = server.split("-", 1)[1]
        return [
            sys.executable, "-m", "uvicorn", target, "--port", str(port), "--loop", loop,
            "--ws", implementation, "--log-level", "warning", "--no-access-log", "--lifespan", "off",
        ]  # fmt: skip
    if server == "granian":
        return [
            sys.executable, "-m", "granian", "--interface", "asgi", "--port", str(port), "--loop", loop,
            "--workers", "1", "--log-level", "warning", "--no-access-log", target,
        ]  # fmt: skip
    raise SystemExit(f"unknown server {server!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--server", required=True)
    parser.add_argument("--compress", action="store_true")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO)])}
    child = subprocess.Popen(command(args.server, args.port, args.loop), cwd=HERE, env=env)
    signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    signal.signal(signal.SIGINT, lambda *_: child.send_signal(signal.SIGTERM))
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", args.port), timeout=0.2).close()
            break
        except OSError:
            if child.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{args.server} did not start")
            time.sleep(0.05)
    print(f"READY {args.port}", flush=True)
    sys.exit(child.wait())


if __name__ == "__main__":
    main()
