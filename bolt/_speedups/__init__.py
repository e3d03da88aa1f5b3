"""The compiled codec (Cython): mask, utf8 and frames. ``bolt.codec`` picks between it and ``bolt._pure``.
Also the transport's receive waiter (``waiter``), which ``bolt.transport.stream`` picks the same way."""
