"""The child processes of the fan-out benchmark (servers, Redis, publisher, member clients) and what
run.py reads of them in /proc."""

from __future__ import annotations

import base64
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from _message import JOINED
from _serverutil import PATH

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
STOP_WAIT = 5.0
# A client's close frame, empty, masked with a zero key (RFC 6455 §5.5.1).
CLOSE_FRAME = b"\x88\x80\x00\x00\x00\x00"


class ChildError(RuntimeError):
    pass


class ChildTimeout(ChildError):
    """The child is alive but did not answer in time."""


class Child:
    """A process with its stderr in a log file. One that speaks lines (``lines=True``: the
    publisher, the members) has pipes on stdin and stdout; a server's stdout goes to the log too,
    so that nothing it prints can fill a pipe no one reads and block it."""

    def __init__(self, name: str, command: list[str], log_dir: str, lines: bool = False) -> None:
        self.name = name
        self.log_path = os.path.join(log_dir, f"{name}.log")
        # bolt falls back to BOLT_BROKER when given no broker: the in-process cell must not.
        env = {key: value for key, value in os.environ.items() if key != "BOLT_BROKER"}
        with open(self.log_path, "ab") as log:
            pipe = subprocess.PIPE if lines else log
            stdin = pipe if lines else subprocess.DEVNULL
            self.process = subprocess.Popen(command, stdin=stdin, stdout=pipe, stderr=log, cwd=HERE, env=env)
        self.pid = self.process.pid
        self._buffer = b""

    def send(self, line: str) -> None:
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def read_line(self, deadline: float) -> str:
        """The next line on the child's stdout; ChildError past ``deadline`` (time.monotonic())
        or if the child exits first."""
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChildTimeout(f"{self.name}: no answer in time\n{self.log_tail()}")
            if select.select([fd], [], [], min(left, 0.5))[0]:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    self.process.wait(STOP_WAIT)
                    raise ChildError(f"{self.name} exited ({self.process.returncode})\n{self.log_tail()}")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()

    def expect(self, word: str, deadline: float) -> list[str]:
        """Read a line that starts with ``word``: its other fields."""
        fields = self.read_line(deadline).split()
        if not fields or fields[0] != word:
            raise ChildError(f"{self.name}: expected {word}, got {' '.join(fields)!r}\n{self.log_tail()}")
        return fields[1:]

    def log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-2000:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """End the child, this process's own, by its pid. One that speaks lines gets EOF on stdin
        first and STOP_WAIT seconds to close its connections and exit by itself; then SIGTERM,
        then SIGKILL if it has not exited within STOP_WAIT seconds."""
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except OSError:  # a broken pipe to a child that is gone
                pass
            try:
                self.process.wait(STOP_WAIT)
            except subprocess.TimeoutExpired:
                pass
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_WAIT)
        if self.process.stdout is not None:
            self.process.stdout.close()


def python_child(name: str, script: str, arguments: list, log_dir: str, lines: bool = False) -> Child:
    return Child(name, [sys.executable, str(HERE / script), *map(str, arguments)], log_dir, lines)


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1, distinct (held open together while picked)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def wait_port(child: Child, port: int, timeout: float) -> None:
    """Until ``port`` accepts a connection: the server listens."""
    deadline = time.monotonic() + timeout
    while True:
        if child.process.poll() is not None:
            raise ChildError(f"{child.name} exited ({child.process.returncode})\n{child.log_tail()}")
        try:
            socket.create_connection((HOST, port), timeout=1.0).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise ChildError(f"{child.name} does not listen on {port}\n{child.log_tail()}") from None
            time.sleep(0.05)


def warm_up(port: int, timeout: float) -> None:
    """One connection through the handshake and into the group, then closed: a server's one-time
    costs (imports done lazily, first buffers, the broker's subscription) are paid before its
    memory is read without members, and do not count as the members'."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {PATH} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        sock.sendall(request.encode())
        received = b""
        while JOINED not in received:  # the 101 response, then the "joined" frame
            chunk = sock.recv(4096)
            if not chunk:
                raise ChildError(f"the server on port {port} closed the warm-up connection: {received[:200]!r}")
            received += chunk
        # Closed as a client should: our close frame, then the server's, then the server closes TCP.
        sock.sendall(CLOSE_FRAME)
        while sock.recv(4096):
            pass


def start_redis(log_dir: str) -> tuple[Child, str]:
    """A redis-server of our own on a free port, nothing saved to disk: (child, URL)."""
    port = free_ports(1)[0]
    command = ["redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no", "--loglevel", "warning"]
    child = Child(f"redis-{port}", command, log_dir)
    wait_port(child, port, 10.0)
    return child, f"redis://{HOST}:{port}/0"


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise ChildError(f"no VmRSS for pid {pid}")


def cpu_ns(pid: int) -> int:
    """The process's CPU time so far, every thread: /proc/<pid>/task/*/schedstat (nanoseconds)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:  # a thread that ended since the listing
            pass
    return total


def machine_busy_ns() -> int:
    """CPU time all CPUs have spent running processes so far (/proc/stat: user, nice, system,
    steal), whoever they were: beside each process's own time, it shows what other jobs took.
    Interrupt time is left out: the loopback traffic of the benchmark itself is counted there."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, _irq, _softirq, steal = (int(value) for value in f.readline().split()[1:9])
    return (user + nice + system + steal) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
