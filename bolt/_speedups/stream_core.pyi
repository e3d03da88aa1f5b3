# The compiled stream core's interface: the same as its pure twin (bolt/_pure/stream_core.py).
from bolt._pure.stream_core import StreamCore as StreamCore
