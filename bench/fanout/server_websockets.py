"""websockets' fan-out server (its asyncio implementation): every connection is added to one set,
told "joined", and each text message it sends goes to the whole set with ``broadcast()``.

    python server_websockets.py --port 8001 [--loop uvloop|asyncio]

``broadcast()`` writes the frame to each open connection's transport at once, without waiting
for any of them.
"""

from __future__ import annotations

import argparse

from _serverutil import HOST, add_arguments, run
from websockets.asyncio.server import ServerConnection, broadcast, serve

members: set[ServerConnection] = set()


async def member(websocket: ServerConnection) -> None:
    members.add(websocket)
    try:
        await websocket.send("joined")
        async for message in websocket:
            broadcast(members, message)
    finally:
        members.discard(websocket)


async def main(port: int) -> None:
    # Backlog as bolt's and uvicorn's (asyncio's default is 100).
    async with serve(member, HOST, port, compression=None, ping_interval=None, backlog=2048) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    options = parser.parse_args()
    run(main(options.port), options.loop)
