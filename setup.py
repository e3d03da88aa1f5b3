"""Build bolt, compiling the codec in bolt/_speedups/ with Cython.

BOLT_BUILD_EXTENSION chooses what happens when the compile fails:
  yes   the build fails (release wheels must never ship without the compiled codec)
  auto  (default) warn loudly and install the pure-Python codec, so pip never fails for want of a compiler
  no    build the pure-Python package only
"""

import os
import sys
import warnings

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

MODE = os.environ.get("BOLT_BUILD_EXTENSION", "auto").strip().lower()
if MODE not in ("yes", "no", "auto"):
    sys.exit(f"BOLT_BUILD_EXTENSION must be yes, no or auto, not {MODE!r}")

# The permessage-deflate engine calls zlib's C API: it needs zlib.h to compile (Debian: zlib1g-dev,
# which python3-dev depends on) and links libz. Windows has neither; there the codec takes the
# pure engine, on Python's own zlib module, for deflate alone (bolt/codec/__init__.py).
SPEEDUPS = ("mask", "utf8", "frames", "waiter", "stream_core") + (() if sys.platform == "win32" else ("deflate",))
LIBRARIES = {"deflate": ["z"]}


def extensions():
    if MODE == "no":
        return []
    if sys.platform == "win32":
        compile_args = ["/O2"]
    else:
        # -g0: debug information is four fifths of an unstripped module and users never read it.
        compile_args = ["-O3", "-fno-strict-aliasing", "-g0"]
    modules = [
        Extension(
            f"bolt._speedups.{name}",
            [f"bolt/_speedups/{name}.pyx"],
            include_dirs=["bolt/_speedups"],
            extra_compile_args=compile_args,
            libraries=LIBRARIES.get(name, []),
        )
        for name in SPEEDUPS
    ]
    try:
        from Cython.Build import cythonize
    except ImportError:
        if MODE == "yes":
            raise
        warnings.warn("Cython is not installed: bolt will use its pure-Python codec")
        return []
    return cythonize(
        modules,
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
        },
    )


class OptionalBuildExt(build_ext):
    """Turns a failed compile into a warning unless BOLT_BUILD_EXTENSION=yes."""

    def run(self):
        try:
            super().run()
        except Exception as exc:
            self._give_up(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._give_up(exc, ext.name)

    def _give_up(self, exc, name="bolt._speedups"):
        if MODE == "yes":
            raise exc
        message = (
            f"\n{'*' * 72}\nbolt: {name} could not be compiled ({exc}).\n"
            "bolt will run its pure-Python codec, which is several times slower.\n"
            "Set BOLT_BUILD_EXTENSION=yes to make this an error.\n" + "*" * 72
        )
        print(message, file=sys.stderr)


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
