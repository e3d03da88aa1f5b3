"""The compiled codec (Cython). Import it through ``bolt.codec``, which falls back to ``bolt._pure``."""

from bolt._speedups.frames import FrameParser, FrameWriter
from bolt._speedups.mask import mask, mask_inplace
from bolt._speedups.utf8 import Utf8Validator, is_valid_utf8

NAME = "compiled"

__all__ = ["NAME", "FrameParser", "FrameWriter", "Utf8Validator", "is_valid_utf8", "mask", "mask_inplace"]
