"""The application under test: an echo endpoint that also notes which codec parsed its frames."""

from __future__ import annotations

from bolt import BoltAPI, WebSocket


def echo_api(**settings) -> BoltAPI:
    """``/echo`` sends every message back as it came (text as text, binary as binary).

    ``api.state["parsers"]`` collects the frame parser class of every connection, so a test can
    show the codec it asked for is the one that ran.
    """
    api = BoltAPI(**settings)
    api.state = {"parsers": set()}

    @api.websocket("/echo")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        api.state["parsers"].add(type(websocket._session.connection._parser))
        async for message in websocket:
            await websocket.send(message)

    return api
