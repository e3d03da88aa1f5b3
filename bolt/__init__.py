"""bolt: a correct and fast WebSocket library for asyncio."""

__version__ = "0.1.0"
