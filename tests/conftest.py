"""Every codec and protocol test runs against both codec implementations in one pytest run.

The ``codec`` fixture yields the implementation module (``bolt._speedups`` or ``bolt._pure``) and,
for the duration of the test, makes it the one ``bolt.codec`` hands to the layers above.

When ``BOLT_REQUIRE_EXTENSIONS=1`` (set by .ci/run after a compiled build), a compiled codec that
did not load is a failure, not a skip.
"""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

import bolt.codec
import bolt.transport.stream
from bolt.transport.run import new_event_loop

# Each loop with its own transport (bolt's default), and stock asyncio with aiofastnet's too
# ("asyncio-aiofastnet": Settings.transport "aiofastnet", through BOLT_TRANSPORT; the test extras
# install aiofastnet).
LOOPS = ["asyncio", "asyncio-aiofastnet", "uvloop"]
REQUIRE_COMPILED = os.environ.get("BOLT_REQUIRE_EXTENSIONS", "") not in ("", "0")
EXPORTED = ("FrameParser", "FrameWriter", "Inflater", "Deflater", "Utf8Validator", "is_valid_utf8", "mask", "mask_inplace")


def load_codec(name: str):
    try:
        return bolt.codec.load(name)
    except ImportError as exc:
        if name == "compiled" and REQUIRE_COMPILED:
            pytest.fail(f"BOLT_REQUIRE_EXTENSIONS=1 but the compiled codec did not load: {exc}")
        pytest.skip(f"{name} codec not available: {exc}")


@pytest.fixture(params=["compiled", "pure"])
def codec(request, monkeypatch):
    implementation = load_codec(request.param)
    for name in EXPORTED:
        monkeypatch.setattr(bolt.codec, name, getattr(implementation, name))
    monkeypatch.setattr(bolt.codec, "IMPLEMENTATION", implementation.NAME)
    # The per-message path (and its receive waiter) lives beside the codec
    # (bolt/_speedups/stream_core.pyx, bolt/_pure/stream_core.py) but is the transport's:
    # bolt.codec imports no asyncio.
    monkeypatch.setattr(bolt.transport.stream, "StreamCore", load_module(request.param, "stream_core").StreamCore)
    return implementation


@pytest.fixture
def both_codecs():
    """The two implementations side by side, for differential tests."""
    return load_codec("compiled"), load_codec("pure")


def load_module(name: str, module: str):
    """One module of one implementation: ``load_module("compiled", "mask")`` is bolt._speedups.mask."""
    import importlib

    try:
        return importlib.import_module(f"{bolt.codec.PACKAGES[name]}.{module}")
    except ImportError as exc:
        # Windows builds have no compiled deflate engine (no zlib headers): see bolt/codec.
        optional = module in bolt.codec.OPTIONAL_COMPILED and sys.platform == "win32"
        if name == "compiled" and REQUIRE_COMPILED and not optional:
            pytest.fail(f"BOLT_REQUIRE_EXTENSIONS=1 but bolt._speedups.{module} did not load: {exc}")
        pytest.skip(f"{name} {module} not available: {exc}")


def loop_runner(loop_name: str, default_timeout: float = 20.0):
    """``runner(coroutine, timeout)`` runs a coroutine to completion on a fresh loop of that kind
    (skipping the test when uvloop is not installed); see LOOPS."""
    kind, _, variant = loop_name.partition("-")
    try:
        new_event_loop(kind).close()
    except ImportError:
        pytest.skip(f"{kind} is not installed")

    def runner(coroutine, timeout: float = default_timeout):
        saved = os.environ.get("BOLT_TRANSPORT")
        if variant:
            os.environ["BOLT_TRANSPORT"] = variant
        try:
            with asyncio.Runner(loop_factory=lambda: new_event_loop(kind)) as runner:
                return runner.run(asyncio.wait_for(coroutine, timeout))
        finally:
            if saved is None:
                os.environ.pop("BOLT_TRANSPORT", None)
            else:
                os.environ["BOLT_TRANSPORT"] = saved

    runner.loop_name = loop_name
    return runner


@pytest.fixture(params=LOOPS)
def run(request):
    """Run a coroutine to completion on each loop in turn: the transport's tests run on stock
    asyncio (with aiofastnet's transport and with the loop's own) and on uvloop, as uvloop's own
    suite runs on both loops."""
    return loop_runner(request.param)
