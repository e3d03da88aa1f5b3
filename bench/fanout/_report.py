"""The fan-out benchmark's figures: one phase's merged over the client processes, the markdown
table, and the machine and versions printed above it."""

from __future__ import annotations

import math
import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
PACKAGES = ("websockets", "picows", "uvloop", "channels", "channels-redis", "Django", "uvicorn", "redis", "hiredis")


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest rank: the smallest value with at least ``fraction`` of them at or below it."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def phase_figures(results: list[dict], members: int, first: int, sent: int) -> dict:
    """Deliveries, losses and latencies of messages ``first`` to ``first + sent - 1``, from every
    client process's results (members.py). A message's latency is from its publish to its
    delivery to the last member that received it, across all processes."""
    seqs = range(first, first + sent)
    fresh = [sum(result["fresh"][seq] for result in results) for seq in seqs]
    last = [max(result["last_ns"][seq] for result in results) for seq in seqs]
    published = [max(result["publish_ns"][seq] for result in results) for seq in seqs]
    delivered = sum(fresh)
    arrived = [i for i, count in enumerate(fresh) if count]
    latencies = sorted((last[i] - published[i]) / 1e6 for i in arrived)
    # From the first publish to the last delivery of the phase: the clients' clock, not run.py's.
    span = (max(last[i] for i in arrived) - min(published[i] for i in arrived)) / 1e9 if arrived else 0.0
    return {
        "sent": sent,
        "delivered": delivered,
        "lost": members * sent - delivered,
        "seconds": span,
        "deliveries_per_s": delivered / span if span else 0.0,
        "p50_ms": percentile(latencies, 0.50) if latencies else None,
        "p99_ms": percentile(latencies, 0.99) if latencies else None,
    }


def lost_cell(phase: dict, members: int) -> str:
    if not phase["lost"]:
        return "0"
    return f"{phase['lost']:,} ({phase['lost'] / (members * max(phase['sent'], 1)):.2%})"


def table(title: str, cells: list[dict], phase: str) -> str:
    lines = [
        f"**{title}**",
        "",
        (
            "| library | broker | members | deliveries/s | p50 ms | p99 ms | lost | server RSS per member (KiB) "
            "| server CPU µs per delivery | CPU % server / clients / Redis / other |"
        ),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for cell in cells:
        head = f"| {cell['library']} | {cell['broker']} | {cell['members']:,} |"
        if "error" in cell:
            lines.append(head + " failed | | | | | | |")
            continue
        figures = cell["phases"][phase]
        cpu_s = figures["cpu_s"]
        roles = ("server", "clients", "redis", "other")
        cpu = " / ".join(f"{cpu_s[role] / figures['wall_s'] * 100:.0f}" if role in cpu_s else "-" for role in roles)
        per_delivery = f"{cpu_s['server'] * 1e6 / figures['delivered']:.2f}" if figures["delivered"] else "-"
        latency = " | ".join("-" if value is None else f"{value:.1f}" for value in (figures["p50_ms"], figures["p99_ms"]))
        lines.append(
            f"{head} {figures['deliveries_per_s']:,.0f} | {latency} | {lost_cell(figures, cell['members'])} "
            f"| {cell['rss_kib_per_member']:.1f} | {per_delivery} | {cpu} |"
        )
    return "\n".join(lines)


def notes(cells: list[dict]) -> list[str]:
    """What a table cannot say: failures, timeouts, a publisher held back, duplicates."""
    found = []
    for cell in cells:
        name = f"{cell['library']} ({cell['broker']}), {cell['members']:,} members"
        if "error" in cell:
            found.append(f"{name}: FAILED: {cell['error']}")
            continue
        for phase, figures in cell["phases"].items():
            if not figures["complete"]:
                found.append(f"{name}, {phase}: not every member had the last message when the phase timed out")
            if figures["sent"] < figures["asked"]:
                found.append(
                    f"{name}, {phase}: time up for the publisher at {figures['sent']} of {figures['asked']} messages sent"
                )
            published = figures["publish_rate"]
            if figures["rate"] and published is not None and published < 0.9 * figures["rate"]:
                found.append(
                    f"{name}, {phase}: published {published:.1f} per second, not {figures['rate']:g} (the window was full)"
                )
        for key in ("duplicates", "malformed", "closed"):
            if cell[key]:
                found.append(f"{name}: {cell[key]:,} {key}" + (" members" if key == "closed" else " frames"))
    return found


def machine() -> str:
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    try:
        redis_server = subprocess.run(
            ["redis-server", "--version"], check=False, capture_output=True, text=True, timeout=10
        ).stdout.split()[2]
    except (OSError, subprocess.SubprocessError, IndexError):
        redis_server = "v=?"
    return (
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}; {model}, nproc {os.cpu_count()}, Linux {platform.release()}; "
        f"Python {platform.python_version()}; bolt {bolt_revision()}; {', '.join(versions)}; redis-server {redis_server.removeprefix('v=')}"
    )


def bolt_revision() -> str:
    """The checkout's commit, and whether bolt/ differs from it (read-only git commands)."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "bolt"],
            check=False,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    return (commit or "?") + (" + uncommitted changes in bolt/" if dirty.strip() else "")


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])
