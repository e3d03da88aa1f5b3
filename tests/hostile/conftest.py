"""``run``: run a scenario on stock asyncio or uvloop, like tests/test_server.py."""

from __future__ import annotations

import pytest

from tests.conftest import LOOPS, loop_runner


def runner_for(loop_name: str):
    return loop_runner(loop_name, default_timeout=60.0)


@pytest.fixture(params=LOOPS)
def run(request):
    """Run a coroutine to completion on each loop in turn."""
    return runner_for(request.param)


@pytest.fixture
def run_asyncio():
    """Run a coroutine on stock asyncio only (for the tests whose cost rules out two loops)."""
    return runner_for("asyncio")
