import os
import subprocess
import sys

import pytest

from tests.conftest import REQUIRE_COMPILED

import bolt.codec


def run(code: str, **env: str) -> str:
    environment = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-c", code], env=environment, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_no_extensions_forces_the_pure_codec():
    assert run("import bolt.codec; print(bolt.codec.IMPLEMENTATION)", BOLT_NO_EXTENSIONS="1") == "pure"


def test_compiled_codec_is_selected_when_built():
    try:
        bolt.codec.load("compiled")
    except ImportError:
        if REQUIRE_COMPILED:
            pytest.fail("BOLT_REQUIRE_EXTENSIONS=1 but the compiled codec did not load")
        pytest.skip("compiled codec not built")
    environment = {k: v for k, v in os.environ.items() if k != "BOLT_NO_EXTENSIONS"}
    out = subprocess.run(
        [sys.executable, "-c", "import bolt.codec; print(bolt.codec.IMPLEMENTATION)"],
        env=environment, check=True, capture_output=True, text=True,
    ).stdout.strip()
    assert out == "compiled"


def test_unknown_implementation_is_refused():
    with pytest.raises(ValueError):
        bolt.codec.load("fortran")
