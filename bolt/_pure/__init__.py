"""The pure-Python codec: mask, utf8 and frames, each the twin of its module in ``bolt._speedups``;
and the transport's receive waiter (``waiter``), twin of ``bolt._speedups.waiter``."""
