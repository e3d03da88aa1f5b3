"""Where connections come from: the event loop's own TCP transport, or aiofastnet's.

aiofastnet (by picows' author; installed with picows, or with ``pip install aiofastnet``, or
``bolt-ws[fast]``) is a compiled TCP and TLS transport for any asyncio loop, with the same
``asyncio.Transport`` and ``BufferedProtocol`` interface as the loop's own. Measured on
2026-11-29 (bench/echo ``--libs bolt,bolt-aiofastnet``, bench/bench_memory.py): on a stock asyncio
loop, whose own transport reads and writes in Python (``selector_events``), bolt's echo spends
about a seventh less CPU per small message on aiofastnet's; on uvloop, whose transport is compiled
already, 3-10% less. Either way each connection costs about 5 KiB more (an idle bolt connection is
about 12 KiB on the loop's own transport). A server of many idle connections wants the loop's own,
a busy one may want aiofastnet's: the default is the loop's own, and aiofastnet is one setting away.
(picows takes aiofastnet's whenever it is installed.) On Windows' proactor loop aiofastnet hands
back to the loop's own itself.

``Settings.transport`` chooses:

- ``"auto"`` (the default): what the ``BOLT_TRANSPORT`` environment variable says (``loop`` or
  ``aiofastnet``), so that an operator can switch without touching code; the loop's own transport
  when it is not set.
- ``"loop"``: the loop's own transport.
- ``"aiofastnet"``: aiofastnet's, on any loop; starting fails with ``ConfigurationError`` when it is
  not installed (``pip install "bolt-ws[fast]"``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any, TypeVar

from bolt.exceptions import ConfigurationError

CHOICES = ("auto", "loop", "aiofastnet")


def check(setting: str) -> str:
    """The choice in effect (the setting, or ``BOLT_TRANSPORT`` over "auto"); ConfigurationError
    when it is not one, or asks for aiofastnet and aiofastnet is not installed. Called before a
    server listens, and before ``bolt.run`` forks its workers."""
    if setting not in CHOICES:
        raise ConfigurationError(f"transport is one of {', '.join(CHOICES)}, not {setting!r}")
    if setting == "auto":
        setting = os.environ.get("BOLT_TRANSPORT", "") or "auto"
        if setting not in CHOICES:
            raise ConfigurationError(f"BOLT_TRANSPORT is one of {', '.join(CHOICES)}, not {setting!r}")
    if setting == "aiofastnet" and _aiofastnet() is None:
        raise ConfigurationError("transport 'aiofastnet' needs the aiofastnet package: pip install aiofastnet")
    return setting


def choose(setting: str) -> Any:
    """The module whose ``create_server``/``create_connection`` to call: aiofastnet, or None for
    the loop's own methods."""
    return _aiofastnet() if check(setting) == "aiofastnet" else None


def _aiofastnet() -> Any:
    try:
        import aiofastnet
    except ImportError:
        return None
    return aiofastnet


_Protocol = TypeVar("_Protocol", bound=asyncio.BaseProtocol)


# asyncio.Server, not AbstractServer: its ``sockets`` are read (uvloop's and aiofastnet's servers
# have them too).
async def create_server(
    setting: str,
    factory: Callable[[], asyncio.BaseProtocol],
    host: str | None = None,
    port: int | None = None,
    **options: Any,
) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    module = choose(setting)
    if module is None:
        return await loop.create_server(factory, host, port, **options)
    server: asyncio.Server = await module.create_server(loop, factory, host, port, **options)
    return server


async def create_connection(
    setting: str, factory: Callable[[], _Protocol], host: str, port: int, **options: Any
) -> tuple[asyncio.Transport, _Protocol]:
    loop = asyncio.get_running_loop()
    module = choose(setting)
    if module is None:
        return await loop.create_connection(factory, host, port, **options)
    connected: tuple[asyncio.Transport, _Protocol] = await module.create_connection(loop, factory, host, port, **options)
    return connected
