"""bolt's fan-out server: every connection joins the group "bench", is told "joined", and each text
message it sends is broadcast to the group with ``api.broadcast``.

    python server_bolt.py --port 8001 [--redis redis://127.0.0.1:6379/0] [--loop uvloop|asyncio]

Without ``--redis`` the broker is bolt's default, in-process; with it, run.py starts one such
process per port, and a broadcast made in one reaches the members of the other through Redis.
"""

from __future__ import annotations

import argparse

# _serverutil first: it puts this checkout's bolt on the path.
from _serverutil import GROUP, HOST, PATH, add_arguments

from bolt import BoltAPI, WebSocket


def make_api(redis: str | None) -> BoltAPI:
    # No keepalive pings in the middle of a run (the other servers have them off too).
    options = {"ping_interval": None, "ping_timeout": None}
    if redis:
        options["broker"] = redis
    api = BoltAPI(**options)

    @api.websocket(PATH)
    async def member(websocket: WebSocket):
        await websocket.accept()
        # join() returns once broadcasts reach this member (with Redis: once this process is
        # subscribed), so "joined" tells the client it can count on every broadcast from now on.
        await websocket.join(GROUP)
        await websocket.send_text("joined")
        async for message in websocket.iter_text():
            await api.broadcast(GROUP, message)

    return api


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    parser.add_argument("--redis", help="the broker's URL (default: bolt's in-process broker)")
    options = parser.parse_args()
    make_api(options.redis).run(HOST, options.port, loop=options.loop, log_level="warning")
