"""Each layer imports only the layers under it: checked in a fresh interpreter, where nothing else
has been imported yet."""

from __future__ import annotations

import subprocess
import sys

import pytest


def modules_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(output.split())


@pytest.mark.parametrize("module", ["bolt.protocol", "bolt.protocol.connection", "bolt.protocol.server", "bolt.codec"])
def test_the_sans_io_core_loads_no_asyncio_and_no_application_code(module):
    loaded = modules_after(f"import {module}")
    assert "asyncio" not in loaded
    assert not {name for name in loaded if name.startswith(("bolt.transport", "bolt.api", "bolt.websocket", "bolt.auth"))}


def test_a_session_does_not_import_its_server():
    loaded = modules_after("import bolt.transport.server_session")
    assert "bolt.transport.server" not in loaded
    assert not {name for name in loaded if name.startswith(("bolt.api", "bolt.websocket"))}


def test_the_public_names_still_load_from_the_package():
    loaded = modules_after("import bolt\nbolt.BoltAPI, bolt.WebSocket, bolt.connect, bolt.ConcurrencyError")
    assert {"bolt.api", "bolt.websocket", "bolt.client"} <= loaded
    assert "bolt.api" not in modules_after("import bolt")
