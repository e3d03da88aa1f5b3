"""The pure-Python codec: the twin of ``bolt._speedups``, identical in behaviour."""

from bolt._pure.frames import FrameParser, FrameWriter
from bolt._pure.mask import mask, mask_inplace
from bolt._pure.utf8 import Utf8Validator, is_valid_utf8

NAME = "pure"

__all__ = ["NAME", "FrameParser", "FrameWriter", "Utf8Validator", "is_valid_utf8", "mask", "mask_inplace"]
