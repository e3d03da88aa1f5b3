"""The smallest bolt server: every text message comes back prefixed with "Echo: ".

    python -m bolt examples.echo:api --port 8000
    python -m websockets ws://127.0.0.1:8000/ws/echo     # any WebSocket client will do
"""

from bolt import BoltAPI, WebSocket

api = BoltAPI()


@api.websocket("/ws/echo")
async def echo(websocket: WebSocket):
    await websocket.accept()
    # The loop ends when the client closes: iter_text() raises WebSocketDisconnect, and bolt
    # treats a handler that lets it escape as a normal end.
    async for message in websocket.iter_text():
        await websocket.send_text(f"Echo: {message}")


PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>bolt echo</title></head>
<body style="font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem">
<h1>bolt echo</h1>
<p>This server echoes every text message sent to <code>/ws/echo</code>, prefixed with <code>Echo: </code>.</p>
<p>From a terminal: <code>python -m websockets ws://HOST/ws/echo</code>, then type a line.</p>
<p>From this page's browser console:</p>
<pre>const ws = new WebSocket(`ws://${location.host}/ws/echo`);
ws.onmessage = (event) =&gt; console.log(event.data);
ws.onopen = () =&gt; ws.send("Hello");   // logs "Echo: Hello"</pre>
</body>
</html>
"""


@api.get("/")
def index():
    return PAGE  # a str starting with "<" is served as text/html
