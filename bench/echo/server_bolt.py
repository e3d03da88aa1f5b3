"""bolt's echo server: ``BoltAPI`` and an ``async for`` handler, text as text, binary as binary."""

from __future__ import annotations

import _serverutil as util

from bolt import BoltAPI, WebSocket
from bolt.transport.server import Server

api = BoltAPI(
    max_message_size=util.MAX_SIZE,
    max_frame_size=util.MAX_SIZE,
    ping_interval=None,  # no keepalive pings in the middle of a timed run
    ping_timeout=None,
)


@api.websocket("/")
async def echo(websocket: WebSocket):
    await websocket.accept()
    async for message in websocket:
        await websocket.send(message)


def main() -> None:
    args = util.parse_args(__doc__)

    async def start():
        server = Server(api, api.settings)
        await server.start(util.HOST, args.port)
        return server.shutdown

    util.run(args.loop, start, args.port)


if __name__ == "__main__":
    main()
