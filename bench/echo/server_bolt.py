"""bolt's echo server: ``BoltAPI`` and an ``async for`` handler, text as text, binary as binary.
``--compress``: permessage-deflate on, with bolt's default compression settings;
``--compression-level N`` changes the zlib level (1 by default, as aiohttp; websockets uses 6);
``--transport auto|loop|aiofastnet`` picks the TCP transport (``Settings.transport``; "auto", the
default, is the loop's own unless BOLT_TRANSPORT says aiofastnet); ``--metrics`` mounts the
Prometheus metrics (``api.metrics()``), to show what they cost per message."""

from __future__ import annotations

import sys

import _serverutil as util

from bolt import BoltAPI, WebSocket
from bolt.transport.server import Server


def make_api(compress: bool, **options) -> BoltAPI:
    api = BoltAPI(
        max_message_size=util.MAX_SIZE,
        max_frame_size=util.MAX_SIZE,
        ping_interval=None,  # no keepalive pings in the middle of a timed run
        ping_timeout=None,
        compression=compress,  # the other compression_* settings are bolt's defaults unless given
        **options,
    )

    @api.websocket("/")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        async for message in websocket:
            await websocket.send(message)

    return api


def main() -> None:
    options = {}
    for flag, setting, kind in (("--compression-level", "compression_level", int), ("--transport", "transport", str)):
        if flag in sys.argv:
            index = sys.argv.index(flag)
            options[setting] = kind(sys.argv[index + 1])
            del sys.argv[index : index + 2]
    metrics = "--metrics" in sys.argv
    if metrics:
        sys.argv.remove("--metrics")
    args = util.parse_args(__doc__)
    api = make_api(args.compress, **options)
    if metrics:
        api.metrics("/metrics")

    async def start():
        server = Server(api, api.settings)
        await server.start(util.HOST, args.port)
        return server.shutdown

    util.run(args.loop, start, args.port)


if __name__ == "__main__":
    main()
