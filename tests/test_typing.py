"""``mypy --strict`` on the package and on tests/typing_usage.py (the public API used as the
reference page uses it, with ``assert_type``): a public signature that regresses fails here. The
configuration is pyproject.toml's ``[tool.mypy]``. Skipped without mypy, except in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def test_mypy_strict_passes_on_bolt_and_the_public_api_usage():
    try:
        import mypy  # noqa: F401
    except ImportError:
        if IN_CI:
            pytest.fail("mypy is not installed (CI checks the types)")
        pytest.skip("mypy is not installed")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "bolt", "tests/typing_usage.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
