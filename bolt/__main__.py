"""``python -m bolt module:api --host 127.0.0.1 --port 8000 --workers 1 --log-level info``"""

from __future__ import annotations

import argparse
import importlib
import os
import ssl
import sys

from bolt.transport.run import run


def load_app(target: str):
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise SystemExit(f"expected module:attribute, such as examples.chat:api, not {target!r}")
    sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise SystemExit(f"module {module_name} has no attribute {attribute!r}") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bolt", description="Serve a bolt API.")
    parser.add_argument("app", help="module:attribute of the BoltAPI, e.g. examples.chat:api")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)")
    parser.add_argument("--loop", choices=["auto", "uvloop", "asyncio"], default="auto")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--ssl-certfile")
    parser.add_argument("--ssl-keyfile")
    options = parser.parse_args(argv)
    context = None
    if options.ssl_certfile:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(options.ssl_certfile, options.ssl_keyfile)
    run(
        load_app(options.app),
        options.host,
        options.port,
        workers=options.workers,
        loop=options.loop,
        ssl=context,
        log_level=options.log_level,
    )


if __name__ == "__main__":
    main()
