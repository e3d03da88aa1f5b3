"""Fan-out benchmark: one publisher broadcasting to N WebSocket members of a group, with bolt (its
in-process broker, and Redis across two server processes), websockets' ``broadcast()`` and Django
Channels (channels_redis across two server processes).

    python bench/fanout/run.py                                   # every library, 1,000 and 10,000 members
    python bench/fanout/run.py --libs bolt,websockets --members 1000 --messages 50 --latency-messages 20

Each cell (library x members) starts everything afresh, each in its own process: a redis-server
if it needs one (``--save "" --appendonly no``, a free port), the server(s) (server_*.py, bound to
127.0.0.1; two processes on two ports for the Redis cells, member i on port i % 2, so which
process serves whom is known), the member clients (members.py, ``--client-procs`` processes, so
the clients' work is not all on one CPU) and, once every member has been told "joined", the
publisher (publisher.py: it publishes on the first port, and has a connection in the group on
every port). Then two phases on the same connections:

1. throughput: ``--messages`` broadcasts, sent as fast as the server takes them with at most
   ``--window`` in flight (a message is in flight until the publisher's own copy has come back
   from every server process);
2. latency: ``--latency-messages`` broadcasts at ``--rate`` per second (within the same window).

The publisher stops sending at half of ``--phase-timeout``, whatever is left; a phase ends when
every member has received the last message sent or it is lost (each member receives in order, so
a later one shows it), or at ``--phase-timeout``. Per phase: deliveries/s (messages received by
members, over the time from the first publish to the last delivery), the publish-to-last-member
latency of each broadcast (p50, p99), messages lost (every member must receive every message
exactly once and in order; a duplicate is counted apart), and the CPU time of the servers, the
client processes, Redis and everything else (other jobs) over the phase (100 = one core), and the
servers' CPU time per delivery.
Server RSS per member is VmRSS (/proc/<pid>/status, all server processes) after the members joined,
less before they connected (but after one connection went through the handshake and the join, so
one-time costs are not counted), over N. Everything is stopped at the end of its cell, on error and on
Ctrl-C too: each child by its own pid, SIGTERM then SIGKILL.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass

from _message import MIN_SIZE
from _procs import (
    Child,
    ChildError,
    ChildTimeout,
    cpu_ns,
    free_ports,
    machine_busy_ns,
    python_child,
    rss_kib,
    start_redis,
    wait_port,
    warm_up,
)
from _report import loadavg, machine, notes, phase_figures, table

SERVER_START = 30.0
PUBLISHER_START = 30.0
WARM_UP_SETTLE = 0.5  # seconds for the servers to see the warm-up connections go


@dataclass(frozen=True)
class Library:
    library: str  # the table's columns
    broker: str
    script: str
    processes: int  # server processes, one port each
    redis: bool


LIBRARIES = {
    "bolt": Library("bolt", "in-process", "server_bolt.py", 1, False),
    "bolt-redis": Library("bolt", "Redis, 2 processes", "server_bolt.py", 2, True),
    "websockets": Library("websockets", "in-process (broadcast())", "server_websockets.py", 1, False),
    "channels": Library("Django Channels", "channels_redis, 2 processes", "server_channels.py", 2, True),
}


def connect_timeout(members: int) -> float:
    return 60.0 + members / 100


def split(total: int, parts: int) -> list[tuple[int, int]]:
    """(first, count) of each client process's members."""
    parts = max(1, min(parts, total))
    bounds = [total * i // parts for i in range(parts + 1)]
    return [(bounds[i], bounds[i + 1] - bounds[i]) for i in range(parts)]


def expect_reached(client: Child, seq: int, deadline: float) -> None:
    """Wait for REACHED <seq>, past a stale one from a phase that timed out."""
    while client.expect("REACHED", deadline) != [str(seq)]:
        pass


def run_phase(
    publisher: Child, clients: list[Child], groups: dict, first: int, count: int, window: int, rate: float, timeout: float
) -> dict:
    cpu_before = {role: sum(cpu_ns(child.pid) for child in children) for role, children in groups.items()}
    busy_before = machine_busy_ns()
    started = time.monotonic()
    deadline = started + timeout
    # The publisher stops sending at half the phase's time, so the deliveries have the rest.
    publisher.send(f"run {first} {count} {window} {rate:g} {timeout / 2:g}")
    sent, taken = publisher.expect("SENT", deadline)
    sent = int(sent)
    complete = True
    if sent:
        for client in clients:
            client.send(f"wait {first + sent - 1}")
        try:
            for client in clients:
                expect_reached(client, first + sent - 1, deadline)
        except ChildTimeout:
            complete = False
    wall = time.monotonic() - started
    cpu_s = {
        role: (sum(cpu_ns(child.pid) for child in children) - cpu_before[role]) / 1e9
        for role, children in groups.items()
        if children
    }
    # Everything else the CPUs did meanwhile: other jobs on a shared machine (and this process).
    # /proc/stat counts in ticks (10 ms), coarse for a short phase: kept within what the CPUs had.
    ours = sum(cpu_s.values())
    cpu_s["other"] = min(max(0.0, (machine_busy_ns() - busy_before) / 1e9 - ours), max(0.0, os.cpu_count() * wall - ours))
    return {
        "first": first,
        "asked": count,
        "sent": sent,
        "rate": rate,
        # Broadcasts per second the publisher kept to: the window holds it back from a server
        # that falls behind.
        "publish_rate": (sent - 1) / float(taken) if sent > 1 and float(taken) > 0 else None,
        "complete": complete,
        "wall_s": wall,
        "cpu_s": cpu_s,
    }


def run_cell(name: str, members: int, args: argparse.Namespace, log_dir: str) -> dict:
    library = LIBRARIES[name]
    cell = {"name": name, "library": library.library, "broker": library.broker, "members": members}
    children: list[Child] = []  # stopped in reverse order: publisher, clients, servers, Redis
    label = f"{name}-{members}"
    try:
        redis: list[Child] = []
        extra = []
        if library.redis:
            child, url = start_redis(log_dir)
            children.append(child)
            redis.append(child)
            extra = ["--redis", url]
        ports = free_ports(library.processes)
        servers = []
        for index, port in enumerate(ports):
            server = python_child(
                f"{label}-server{index}", library.script, ["--port", port, "--loop", args.loop, *extra], log_dir
            )
            children.append(server)
            servers.append(server)
        for server, port in zip(servers, ports):
            wait_port(server, port, SERVER_START)

        for port in ports:
            warm_up(port, SERVER_START)
        time.sleep(WARM_UP_SETTLE)
        port_list = ",".join(map(str, ports))
        rss_before = sum(rss_kib(server.pid) for server in servers)
        total = args.messages + args.latency_messages
        clients = []
        for index, (first, count) in enumerate(split(members, args.client_procs)):
            arguments = ["--ports", port_list, "--first", first, "--count", count, "--messages", total, "--size", args.size]
            client = python_child(f"{label}-members{index}", "members.py", arguments, log_dir, lines=True)
            children.append(client)
            clients.append(client)
        started = time.monotonic()
        deadline = started + connect_timeout(members)
        for client in clients:
            client.expect("READY", deadline)
        cell["connect_s"] = time.monotonic() - started
        cell["rss_kib_per_member"] = (sum(rss_kib(server.pid) for server in servers) - rss_before) / members

        # The publisher joins last: where a server delivers in the order members joined, the
        # publisher's own copy, which ends a message's time in flight, comes after the members'.
        publisher = python_child(
            f"{label}-publisher", "publisher.py", ["--ports", port_list, "--size", args.size], log_dir, lines=True
        )
        children.append(publisher)
        publisher.expect("READY", time.monotonic() + PUBLISHER_START)

        groups = {"server": servers, "clients": [*clients, publisher], "redis": redis}
        phases = {
            "throughput": run_phase(publisher, clients, groups, 0, args.messages, args.window, 0, args.phase_timeout),
            "latency": run_phase(
                publisher, clients, groups, args.messages, args.latency_messages, args.window, args.rate, args.phase_timeout
            ),
        }

        deadline = time.monotonic() + 30
        results = []
        for client in clients:
            client.send("stop")
        for client in clients:
            line = client.read_line(deadline)
            while not line.startswith("{"):  # a REACHED from a phase that timed out
                line = client.read_line(deadline)
            results.append(json.loads(line))
        publisher.send("stop")
        for phase in phases.values():
            phase.update(phase_figures(results, members, phase["first"], phase["sent"]))
        cell["phases"] = phases
        for key in ("duplicates", "malformed", "closed"):
            cell[key] = sum(result[key] for result in results)
    except ChildError as error:
        cell["error"] = str(error).splitlines()[0]
        print(f"{label}: FAILED: {error}", file=sys.stderr)
    finally:
        for child in reversed(children):
            child.stop()
    return cell


def summary(cell: dict) -> str:
    if "error" in cell:
        return "failed"
    throughput, latency = cell["phases"]["throughput"], cell["phases"]["latency"]
    p50 = "-" if latency["p50_ms"] is None else f"{latency['p50_ms']:.1f} ms"
    return (
        f"connected in {cell['connect_s']:.1f} s; {throughput['deliveries_per_s']:,.0f} deliveries/s, "
        f"latency p50 {p50}; lost {throughput['lost'] + latency['lost']:,}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--libs", default=",".join(LIBRARIES), help=f"comma-separated, from {', '.join(LIBRARIES)}")
    parser.add_argument("--members", default="1000,10000", help="comma-separated group sizes")
    parser.add_argument("--messages", type=int, default=200, help="broadcasts in the throughput phase")
    parser.add_argument("--window", type=int, default=10, help="broadcasts in flight at most")
    parser.add_argument("--latency-messages", type=int, default=50, help="broadcasts in the latency phase")
    parser.add_argument("--rate", type=float, default=5.0, help="broadcasts per second in the latency phase")
    parser.add_argument("--size", type=int, default=64, help=f"message size in bytes (at least {MIN_SIZE})")
    parser.add_argument("--client-procs", type=int, default=2, help="member client processes")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop", help="the servers' event loop")
    parser.add_argument("--phase-timeout", type=float, default=120.0, help="seconds a phase may take at most")
    parser.add_argument("--json", help="also write the raw figures to this file")
    args = parser.parse_args()
    names = args.libs.split(",")
    for name in names:
        if name not in LIBRARIES:
            parser.error(f"unknown library {name!r}")
    sizes = [int(value) for value in args.members.split(",")]
    if (
        args.size < MIN_SIZE
        or args.messages < 1
        or args.latency_messages < 1
        or args.window < 1
        or args.rate <= 0
        or min(sizes) < 1
    ):
        parser.error("size below the header, or a count, window or rate below 1")

    # SIGTERM ends the run like Ctrl-C, so the finally blocks stop every child.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    print(machine())
    print(
        f"load average {loadavg()}; servers on {args.loop}; {args.client_procs} member client processes (picows, uvloop) "
        f"and the publisher share the machine's CPUs with the servers and Redis; {args.size}-byte text messages"
    )
    log_dir = tempfile.mkdtemp(prefix="bolt-fanout-bench-")
    cells = []
    for members in sizes:
        for name in names:
            cell = run_cell(name, members, args, log_dir)
            print(f"  {name}, {members:,} members: {summary(cell)}", file=sys.stderr, flush=True)
            cells.append(cell)

    print()
    print(
        table(
            f"Throughput: {args.messages} broadcasts, as fast as the server takes them, at most {args.window} in flight",
            cells,
            "throughput",
        )
    )
    print()
    print(table(f"Latency: {args.latency_messages} broadcasts at {args.rate:g} per second", cells, "latency"))
    found = notes(cells)
    if found:
        print()
        print("\n".join(f"- {note}" for note in found))
    print()
    print(f"load average after: {loadavg()}; logs in {log_dir}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "options": vars(args), "cells": cells}, f, indent=1)
    return 0 if all("error" not in cell for cell in cells) else 1


if __name__ == "__main__":
    sys.exit(main())
