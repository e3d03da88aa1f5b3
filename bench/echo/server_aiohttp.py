"""aiohttp's echo server: ``web.Application`` and a ``WebSocketResponse``.
``--compress``: ``WebSocketResponse(compress=True)``, aiohttp's default permessage-deflate."""

from __future__ import annotations

import _serverutil as util
from aiohttp import WSMsgType, web


def make_echo(compress: bool):
    async def echo(request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(compress=compress, max_msg_size=0, heartbeat=None)
        await websocket.prepare(request)
        async for message in websocket:
            if message.type is WSMsgType.TEXT:
                await websocket.send_str(message.data)
            elif message.type is WSMsgType.BINARY:
                await websocket.send_bytes(message.data)
        return websocket

    return echo


def main() -> None:
    args = util.parse_args(__doc__)

    async def start():
        app = web.Application()
        app.router.add_get("/", make_echo(args.compress))
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, util.HOST, args.port).start()
        return runner.cleanup

    util.run(args.loop, start, args.port)


if __name__ == "__main__":
    main()
