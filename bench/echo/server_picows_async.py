"""picows' async API (``picows.websockets``, its compiled websockets-compatible layer) with the
same ``async for`` / ``send`` handler as bolt's: the fair peer for an async handler. Runs on
aiofastnet's transport when that package is installed, as picows' callback server does."""

from __future__ import annotations

import _serverutil as util
from picows.websockets.asyncio.server import serve


async def echo(websocket) -> None:
    async for message in websocket:
        await websocket.send(message)


def main() -> None:
    args = util.parse_args(__doc__)
    if args.compress:
        raise SystemExit("the benchmark compares compression with bolt, websockets and aiohttp only")

    async def start():
        server = await serve(
            echo,
            util.HOST,
            args.port,
            compression=None,
            max_size=util.MAX_SIZE,
            ping_interval=None,  # no keepalive pings in the middle of a timed run
            ping_timeout=None,
        )
        return util.closer(server)

    util.run(args.loop, start, args.port)


if __name__ == "__main__":
    main()
