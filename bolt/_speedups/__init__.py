"""The compiled codec (Cython): mask, utf8 and frames. ``bolt.codec`` picks between it and ``bolt._pure``."""
