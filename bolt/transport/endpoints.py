"""Where connections come from: the event loop's own TCP transport, or aiofastnet's.

aiofastnet (by picows' author; installed with picows, or with ``pip install aiofastnet``, or
``bolt-ws[fast]``) is a compiled TCP and TLS transport for any asyncio loop, with the same
``asyncio.Transport`` and ``BufferedProtocol`` interface as the loop's own. On a stock asyncio loop
every read and write of the loop's transport is Python code (``selector_events``); on uvloop the
transport is compiled already, and aiofastnet's still costs about a tenth less CPU per small message
(bench/echo ``--libs bolt,bolt-aiofastnet``), so picows uses it on both loops, and so does bolt.
On Windows' proactor loop aiofastnet hands back to the loop's own transport itself.

``Settings.transport`` chooses:

- ``"auto"`` (the default): aiofastnet when it is installed, the loop's own transport otherwise.
  The ``BOLT_TRANSPORT`` environment variable, when set to ``loop`` or ``aiofastnet``, overrides
  it without touching code.
- ``"loop"``: always the loop's own transport.
- ``"aiofastnet"``: aiofastnet's; starting fails with ``ConfigurationError`` when it is not
  installed.
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


def choose(setting: str) -> Any:
    """The module whose ``create_server``/``create_connection`` to call: aiofastnet, or None for
    the loop's own methods."""
    if check(setting) == "loop":
        return None
    return _aiofastnet()


def _aiofastnet() -> Any:
    try:
        import aiofastnet
    except ImportError:
        return None
    return aiofastnet


async def create_server(setting: str, factory, host=None, port=None, **options) -> asyncio.AbstractServer:
    loop = asyncio.get_running_loop()
    module = choose(setting)
    if module is None:
        return await loop.create_server(factory, host, port, **options)
    return await module.create_server(loop, factory, host, port, **options)


async def create_connection(setting: str, factory, host=None, port=None, **options) -> tuple:
    loop = asyncio.get_running_loop()
    module = choose(setting)
    if module is None:
        return await loop.create_connection(factory, host, port, **options)
    return await module.create_connection(loop, factory, host, port, **options)
