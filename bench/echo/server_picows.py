"""picows' echo server: its callback API (``WSListener.on_ws_frame``), the fastest Python server.

picows works frame by frame: it neither assembles fragmented messages nor decodes or validates
text (the payload goes back as a memoryview). The benchmark sends whole messages only, so the
echo is correct, but picows does less work per message than the others.

``--transport``: "auto" is picows' default (aiofastnet's transport when that package is installed,
the loop's own otherwise); "loop" forces ``loop.create_server``, the transport the others use.
"""

from __future__ import annotations

import sys

import _serverutil as util
from picows import WSListener, WSMsgType, ws_create_server


class Echo(WSListener):
    def on_ws_frame(self, transport, frame) -> None:
        msg_type = frame.msg_type
        if msg_type == WSMsgType.TEXT or msg_type == WSMsgType.BINARY:
            transport.send(msg_type, frame.get_payload_as_memoryview())
        elif msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()


def main() -> None:
    transport = "auto"
    if "--transport" in sys.argv:
        index = sys.argv.index("--transport")
        transport = sys.argv[index + 1]
        del sys.argv[index : index + 2]
    if transport not in ("auto", "loop"):
        raise SystemExit("--transport is auto or loop")
    args = util.parse_args(__doc__)
    if args.compress:
        raise SystemExit("picows has no permessage-deflate")
    options = {} if transport == "auto" else {"use_aiofastnet": False}

    async def start():
        server = await ws_create_server(
            lambda request: Echo(),
            util.HOST,
            args.port,
            max_frame_size=util.MAX_SIZE,
            enable_auto_ping=False,
            **options,
        )
        return util.closer(server)

    util.run(args.loop, start, args.port)


if __name__ == "__main__":
    main()
