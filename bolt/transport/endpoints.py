"""Where connections come from: the event loop's own TCP transport, or aiofastnet's.

On a stock asyncio loop every read and every write of the loop's transport is Python code
(``selector_events``). aiofastnet (by picows' author; installed with picows, or with
``pip install aiofastnet``) is a compiled transport for the same loop, with the same
``asyncio.Transport`` and ``BufferedProtocol`` interface: bolt's echo spends about a quarter less
CPU per small message on it (bench/echo). uvloop's transport is compiled already, and faster than
aiofastnet's on uvloop, so it is kept there.

``Settings.transport`` chooses:

- ``"auto"`` (the default): aiofastnet on a stock asyncio loop when it is installed, the loop's own
  transport otherwise. The ``BOLT_TRANSPORT`` environment variable, when set to ``loop`` or
  ``aiofastnet``, overrides it without touching code.
- ``"loop"``: always the loop's own transport.
- ``"aiofastnet"``: aiofastnet's, on any loop; starting fails with ``ConfigurationError`` when it is
  not installed.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

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


def choose(setting: str, loop: asyncio.AbstractEventLoop) -> Any:
    """The module whose ``create_server``/``create_connection`` to call: aiofastnet, or None for
    the loop's own methods."""
    setting = check(setting)
    if setting == "loop" or (setting == "auto" and not _stock_selector_loop(loop)):
        return None
    return _aiofastnet()


def _aiofastnet() -> Any:
    try:
        import aiofastnet
    except ImportError:
        return None
    return aiofastnet


def _stock_selector_loop(loop: asyncio.AbstractEventLoop) -> bool:
    # uvloop's Loop is not a SelectorEventLoop; a subclass from another library may have changed
    # how sockets are read, so only asyncio's own class counts.
    return type(loop).__module__.startswith("asyncio.") and isinstance(loop, asyncio.SelectorEventLoop)


async def create_server(setting: str, factory, host=None, port=None, **options) -> asyncio.AbstractServer:
    loop = asyncio.get_running_loop()
    module = choose(setting, loop)
    if module is None:
        return await loop.create_server(factory, host, port, **options)
    return await module.create_server(loop, factory, host, port, **options)


async def create_connection(setting: str, factory, host=None, port=None, **options) -> tuple:
    loop = asyncio.get_running_loop()
    module = choose(setting, loop)
    if module is None:
        return await loop.create_connection(factory, host, port, **options)
    return await module.create_connection(loop, factory, host, port, **options)
