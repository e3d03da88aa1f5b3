"""``serve``: run a scenario against a fresh echo server built with the codec under test."""

from __future__ import annotations

import asyncio

import pytest

from bolt.testing import AsyncTestClient
from tests.conformance.app import echo_api


@pytest.fixture
def serve(codec):
    """``serve(scenario, **settings)`` runs ``await scenario(port)`` against an echo server whose
    connections parse with ``codec`` (the fixture switches the implementation for anything built
    during the test), and checks afterwards that they did."""

    def runner(scenario, *, timeout: float = 60.0, **settings):
        async def main():
            api = echo_api(**settings)
            async with AsyncTestClient(api) as client:
                result = await scenario(client.port)
            assert api.state["parsers"] == {codec.FrameParser}, api.state["parsers"]
            return result

        with asyncio.Runner() as loop_runner:
            return loop_runner.run(asyncio.wait_for(main(), timeout))

    return runner

