"""Fuzzing: the frame parser (both codec implementations must agree), the HTTP request parser and
``validate_upgrade``. ``targets.py`` holds the checks; the ``test_*.py`` files run them under
hypothesis with a fixed budget in CI; ``atheris_frames.py`` and ``atheris_http.py`` run them under
atheris (libFuzzer) for long runs by hand::

    pip install atheris
    python -m tests.fuzz.atheris_frames -atheris_runs=5000000
    python -m tests.fuzz.atheris_http -max_total_time=600
"""
