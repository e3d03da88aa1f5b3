"""``python -m bolt module:api --host 127.0.0.1 --port 8000 --workers 1 --broker redis://... --log-level info``

What stops the server from starting (a target that does not import, an app that cannot be served)
is one line on stderr and exit status 2, not a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import ssl
import sys
from typing import Any, NoReturn

from bolt.auth import ConfigurationError
from bolt.transport.run import run


def fail(message: str) -> NoReturn:
    print(f"bolt: {message}", file=sys.stderr)
    raise SystemExit(2)


def load_app(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        fail(f"expected module:attribute, such as examples.chat:api, not {target!r}")
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        fail(f"cannot import {module_name}: {error}")
    try:
        return getattr(module, attribute)
    except AttributeError:
        fail(f"module {module_name} has no attribute {attribute!r}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bolt", description="Serve a bolt API.")
    parser.add_argument("app", help="module:attribute of the BoltAPI, e.g. examples.chat:api")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)")
    parser.add_argument("--loop", choices=["auto", "uvloop", "asyncio"], default="auto")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument(
        "--broker",
        help="carries broadcast groups between workers and machines: redis://host:6379/0 (default: "
        "BOLT_BROKER, else in-process)",
    )
    parser.add_argument(
        "--access-log",
        nargs="?",
        const="text",
        choices=["off", "text", "json"],
        help="one line per handshake and per connection end on the bolt.access logger (default: off; "
        "the flag alone: text)",
    )
    parser.add_argument(
        "--asgi",
        action="store_true",
        help="the target is any ASGI 3 application (Starlette, FastAPI...), not a BoltAPI",
    )
    parser.add_argument("--ssl-certfile")
    parser.add_argument("--ssl-keyfile")
    options = parser.parse_args(argv)
    context = None
    if options.ssl_certfile:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(options.ssl_certfile, options.ssl_keyfile)
    app = load_app(options.app)
    if options.asgi:
        from bolt.transport.asgi_host import AsgiHost

        app = AsgiHost(app)
    try:
        if options.access_log is not None:
            if not hasattr(app, "settings"):
                fail(f"{options.app} has no settings, so --access-log does not apply to it")
            app.settings = dataclasses.replace(app.settings, access_log=options.access_log)
        if options.broker:
            if not hasattr(app, "use_broker"):
                fail(f"{options.app} has no broadcast groups, so --broker does not apply to it")
            app.use_broker(options.broker)
        run(
            app,
            options.host,
            options.port,
            workers=options.workers,
            loop=options.loop,
            ssl=context,
            log_level=options.log_level,
        )
    except ConfigurationError as error:
        # run() prepares the app before it listens or forks, so this is the only report of it.
        fail(f"cannot serve {options.app}: {error}")


if __name__ == "__main__":
    main()
