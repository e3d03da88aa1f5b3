# The compiled receive waiter's interface: the same as its pure twin (bolt/_pure/waiter.py).
from bolt._pure.waiter import Waiter as Waiter
