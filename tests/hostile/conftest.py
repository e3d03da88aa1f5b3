"""``run``: run a scenario on stock asyncio or uvloop, like tests/test_server.py."""

from __future__ import annotations

import asyncio

import pytest

from bolt.transport.run import new_event_loop

LOOPS = ["asyncio", "uvloop"]


def runner_for(loop_name: str):
    try:
        new_event_loop(loop_name).close()
    except ImportError:
        pytest.skip(f"{loop_name} is not installed")

    def runner(coroutine, timeout: float = 60.0):
        with asyncio.Runner(loop_factory=lambda: new_event_loop(loop_name)) as loop_runner:
            return loop_runner.run(asyncio.wait_for(coroutine, timeout))

    runner.loop_name = loop_name
    return runner


@pytest.fixture(params=LOOPS)
def run(request):
    """Run a coroutine to completion on each loop in turn."""
    return runner_for(request.param)


@pytest.fixture
def run_asyncio():
    """Run a coroutine on stock asyncio only (for the tests whose cost rules out two loops)."""
    return runner_for("asyncio")
