"""What the atheris entry points share: the libFuzzer defaults and a seed corpus. Run one as ``python -m tests.fuzz.atheris_frames [libFuzzer flags] [corpus dirs]``."""

from __future__ import annotations

import os
import sys
import tempfile


def run(target_name: str, seeds: list[bytes]) -> None:
    import atheris  # pip install atheris; not needed by the CI tests

    with atheris.instrument_imports(include=["bolt", "tests.fuzz.targets"]):
        from tests.fuzz import targets

    test_one_input = getattr(targets, target_name)

    argv = list(sys.argv)
    flags = [arg for arg in argv[1:] if arg.startswith("-")]
    work = os.path.join(tempfile.gettempdir(), f"bolt-fuzz-{target_name}")
    os.makedirs(work, exist_ok=True)
    if not any(flag.startswith("-artifact_prefix=") for flag in flags):
        argv.append(f"-artifact_prefix={work}/")  # crash files go here, not into the work tree
    if not any(flag.startswith("-max_len=") for flag in flags):
        argv.append("-max_len=2048")
    if not any(flag.startswith("-timeout=") for flag in flags):
        argv.append("-timeout=10")  # a single input taking 10 s counts as a hang
    if not any(flag.startswith("-rss_limit_mb=") for flag in flags):
        argv.append("-rss_limit_mb=3072")
    if not [arg for arg in sys.argv[1:] if not arg.startswith("-")]:  # no corpus given: the seeds
        corpus = os.path.join(work, "corpus")
        os.makedirs(corpus, exist_ok=True)
        for index, seed in enumerate(seeds):
            with open(os.path.join(corpus, f"seed-{index}"), "wb") as file:
                file.write(seed)
        argv.append(corpus)
    print(f"atheris {target_name}: {' '.join(argv[1:])}", file=sys.stderr)
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()
