"""Django Channels' fan-out server: an ``AsyncWebsocketConsumer`` on channels_redis' layer, served
by uvicorn. Every connection joins the group "bench", is told "joined", and each text message it
sends goes to the group with ``channel_layer.group_send``.

    python server_channels.py --port 8001 --redis redis://127.0.0.1:6379/0 [--loop uvloop|asyncio]

run.py starts one such process per port, both on the same Redis: a group_send in one reaches the
members of the other. The layer's settings are channels_redis' defaults (notably ``capacity``: 100
messages waiting per process, beyond which group_send drops them).
"""

from __future__ import annotations

import argparse

import django
import uvicorn
from _serverutil import GROUP, HOST, add_arguments
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings


class Member(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        # In the group before the handshake completes, so "joined" means what it says.
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()
        await self.send(text_data="joined")

    async def receive(self, text_data=None, bytes_data=None) -> None:
        await self.channel_layer.group_send(GROUP, {"type": "bench.message", "text": text_data})

    async def bench_message(self, event: dict) -> None:
        await self.send(text_data=event["text"])

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(GROUP, self.channel_name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    parser.add_argument("--redis", required=True, help="channels_redis' host URL")
    options = parser.parse_args()
    # A Django project of one setting: the channel layer.
    settings.configure(
        CHANNEL_LAYERS={"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [options.redis]}}}
    )
    django.setup()
    uvicorn.run(
        Member.as_asgi(),
        host=HOST,
        port=options.port,
        loop=options.loop,
        lifespan="off",
        ws_ping_interval=None,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
