"""The pure permessage-deflate engine, on the zlib module: ``bolt._deflate``, named here as the
pure codec's twin of ``bolt._speedups.deflate``."""

from bolt._deflate import TAIL, Deflater, Inflater

__all__ = ["TAIL", "Deflater", "Inflater"]
