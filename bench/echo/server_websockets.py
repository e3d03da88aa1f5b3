"""websockets' echo server (its asyncio implementation): ``async for`` and ``send``.
``--compress``: ``compression="deflate"``, websockets' default permessage-deflate settings."""

from __future__ import annotations

import _serverutil as util
from websockets.asyncio.server import serve


async def echo(websocket) -> None:
    async for message in websocket:
        await websocket.send(message)


def main() -> None:
    args = util.parse_args(__doc__)

    async def start():
        server = await serve(
            echo,
            util.HOST,
            args.port,
            compression="deflate" if args.compress else None,
            max_size=None,
            max_queue=None,
            ping_interval=None,
        )
        return util.closer(server)

    util.run(args.loop, start, args.port)


if __name__ == "__main__":
    main()
