"""The pytest-benchmark suites in bench/ (test_bench_*.py) import the benchmark scripts beside them
(bench_mask.py, bench_utf8.py, bench_frames.py) for their cases, so this folder is on sys.path.

In the normal test run (``pytest``, pyproject.toml's addopts) they run once each with
``--benchmark-disable``, so they cannot rot; to time them::

    pytest bench --benchmark-enable --benchmark-only                    # grouped tables
    pytest bench --benchmark-enable --benchmark-only --benchmark-autosave
    pytest bench --benchmark-enable --benchmark-only --benchmark-compare  # against the last saved run
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
