"""The documentation site: its tutorial's code runs as written (every Python block of
docs/tutorial.md, in order, as one module, then each step driven through the real server), and
``mkdocs build --strict`` passes, so a broken link or reference fails the run (skipped without
mkdocs, except in CI)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import jwt as pyjwt
import pytest

from bolt import WebSocketDisconnect
from bolt.testing import TestClient

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def tutorial_module() -> dict:
    text = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 6, "the tutorial's six steps"
    namespace: dict = {"__name__": "tutorial"}
    exec(compile("\n".join(blocks), "docs/tutorial.md", "exec"), namespace)  # noqa: S102 - our own page
    return namespace


def test_the_tutorial_runs_as_written():
    tutorial = tutorial_module()
    api = tutorial["api"]
    tutorial["test_echo"]()  # step 6, the page's own test
    token = pyjwt.encode(
        {"sub": "alice", "exp": int(time.time()) + 600},
        "change-me-to-a-long-random-secret-of-32+-bytes",
        algorithm="HS256",
    )
    with TestClient(api) as client:
        with client.websocket_connect("/ws/users/5?verbose=true") as feed:
            assert feed.receive_json() == {"user": 5, "verbose": True}
        assert client.get("/ws/users/five").status in (400, 404)
        with client.websocket_connect("/ws/calc") as calc:
            calc.send_json({"a": 2, "b": 3})
            assert calc.receive_json() == {"sum": 5}
            calc.send_json([1])
            with pytest.raises(WebSocketDisconnect) as closed:
                calc.receive()
            assert closed.value.code == 1008
        with client.websocket_connect("/ws/room/7") as alice, client.websocket_connect("/ws/room/7") as bob:
            time.sleep(0.1)  # both joined
            alice.send_text("hi")
            assert bob.receive_text() == "[7] hi"
            assert alice.receive_text() == "[7] hi"
        with client.websocket_connect("/ws/private", headers=[("Authorization", f"Bearer {token}")]) as private:
            assert private.receive_text() == "hello alice"


def test_the_site_builds_strictly(tmp_path):
    try:
        import mkdocs  # noqa: F401
        import mkdocstrings  # noqa: F401
    except ImportError:
        if IN_CI:
            pytest.fail("mkdocs is not installed (CI builds the documentation site)")
        pytest.skip("mkdocs is not installed")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "tutorial" / "index.html").exists()
    assert "BoltAPI" in (tmp_path / "site" / "reference" / "index.html").read_text(encoding="utf-8")
