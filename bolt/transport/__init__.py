"""The asyncio transport: sockets, buffers, flow control, keepalive, timeouts, graceful shutdown.

``stream.WebSocketStream`` is one connection once it speaks WebSocket; ``server_session`` and
``client_session`` add each role's opening handshake; ``server.Server`` listens and shuts down;
``run`` is the process entry point (signals, workers, uvloop).
"""
