"""Prometheus metrics for a ``BoltAPI`` (``pip install 'bolt-ws[metrics]'``): ``api.metrics("/metrics")``.

Nothing is counted per message here. The codec and each connection keep plain integers
(``websocket.stats``); this module keeps, per route template, the connections that are open and
the totals of those that ended, and sums them when Prometheus scrapes. What it adds to a
connection's life is a set insert and remove and, per pong, one histogram bucket.

Every series is labelled by route template (``/ws/room/{room_id}``), never by raw path, so their
number is bounded by the routes, not by the clients. Requests that matched no WebSocket route
count under ``route=""``.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client.metrics_core import Metric

    from bolt.groups.hub import Hub
    from bolt.transport.session import HandshakingSession

# Round trips of keepalive and ping() pongs, seconds: loopback to a distant mobile client.
RTT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
COUNTS = (
    "text_received",
    "text_bytes_received",
    "binary_received",
    "binary_bytes_received",
    "text_sent",
    "text_bytes_sent",
    "binary_sent",
    "binary_bytes_sent",
    "pings_received",
    "pings_sent",
    "pongs_received",
)
EVENTS = ("inbox_full_events", "write_paused_events")


class Tally:
    """What the API counts for its metrics, with no dependency on prometheus_client."""

    def __init__(self) -> None:
        self.handshakes: dict[tuple[str, int], int] = defaultdict(int)
        self.live: dict[str, set[HandshakingSession]] = defaultdict(set)
        # Per route: the counts of COUNTS and EVENTS summed over connections that ended.
        self.ended: dict[str, list[int]] = defaultdict(lambda: [0] * (len(COUNTS) + len(EVENTS)))
        self.closes: dict[tuple[str, int, str], int] = defaultdict(int)
        self.handler_errors: dict[str, int] = defaultdict(int)
        # Per route: a count per bucket (and one past the last), the sum, the count.
        # [bucket counts, sum, count]
        self.rtt: dict[str, list[Any]] = {}

    def answered(self, route: str, status: int) -> None:
        self.handshakes[(route, status)] += 1

    def opened(self, route: str, session: Any) -> None:
        self.live[route].add(session)
        session.on_rtt = lambda rtt: self.observe_rtt(route, rtt)

    def ended_with(self, route: str, session: Any) -> None:
        self.live[route].discard(session)
        session.on_rtt = None
        stats = session.stats()
        totals = self.ended[route]
        for index, name in enumerate(COUNTS):
            totals[index] += getattr(stats, name)
        for index, name in enumerate(EVENTS, len(COUNTS)):
            totals[index] += getattr(session, name)
        if stats.close_code is not None:
            self.closes[(route, stats.close_code, stats.closed_by or "neither")] += 1

    def observe_rtt(self, route: str, rtt: float) -> None:
        histogram = self.rtt.get(route)
        if histogram is None:
            histogram = self.rtt[route] = [[0] * (len(RTT_BUCKETS) + 1), 0.0, 0]
        histogram[0][bisect.bisect_left(RTT_BUCKETS, rtt)] += 1
        histogram[1] += rtt
        histogram[2] += 1

    def totals(self) -> dict[str, list[int]]:
        """Per route: the ended connections' counts plus the open ones' so far."""
        result = {route: list(counts) for route, counts in self.ended.items()}
        for route, sessions in self.live.items():
            counts = result.setdefault(route, [0] * (len(COUNTS) + len(EVENTS)))
            for session in sessions:
                stats = session.stats()
                for index, name in enumerate(COUNTS):
                    counts[index] += getattr(stats, name)
                for index, name in enumerate(EVENTS, len(COUNTS)):
                    counts[index] += getattr(session, name)
        return result


class Collector:
    """A prometheus_client collector over one API's ``Tally`` and broadcast groups."""

    def __init__(self, tally: Tally, hub: Hub) -> None:
        self.tally = tally
        self.hub = hub

    def describe(self) -> list[Metric]:
        return []  # collected on demand only: the registry must not call collect() to learn names

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        from bolt.protocol.connection import OPEN

        tally = self.tally
        open_connections = GaugeMetricFamily(
            "bolt_connections_open", "WebSocket connections open now", labels=["route"]
        )
        for route, sessions in tally.live.items():
            open_connections.add_metric([route], sum(1 for session in sessions if session.state is OPEN))
        yield open_connections

        handshakes = CounterMetricFamily(
            "bolt_handshakes", "WebSocket handshakes answered, by HTTP status (101: accepted)", labels=["route", "status"]
        )
        for (route, status), count in sorted(tally.handshakes.items()):
            handshakes.add_metric([route, str(status)], count)
        yield handshakes

        messages = CounterMetricFamily(
            "bolt_messages", "WebSocket messages", labels=["route", "direction", "type"]
        )
        payload = CounterMetricFamily(
            "bolt_message_bytes", "Payload bytes of WebSocket messages (text as UTF-8, inflated)", labels=["route", "direction", "type"]
        )
        pings = CounterMetricFamily("bolt_pings", "Pings, each way (every ping received is answered)", labels=["route", "direction"])
        pongs = CounterMetricFamily("bolt_pongs_received", "Pongs answering our pings", labels=["route"])
        inbox_full = CounterMetricFamily(
            "bolt_inbox_full", "Times reading paused because the handler was behind", labels=["route"]
        )
        write_paused = CounterMetricFamily(
            "bolt_write_paused", "Times writing paused because the peer was not reading", labels=["route"]
        )
        for route, counts in sorted(tally.totals().items()):
            for offset, (direction, name) in enumerate((("in", "received"), ("out", "sent"))):
                base = offset * 4
                messages.add_metric([route, direction, "text"], counts[base])
                payload.add_metric([route, direction, "text"], counts[base + 1])
                messages.add_metric([route, direction, "binary"], counts[base + 2])
                payload.add_metric([route, direction, "binary"], counts[base + 3])
            pings.add_metric([route, "in"], counts[8])
            pings.add_metric([route, "out"], counts[9])
            pongs.add_metric([route], counts[10])
            inbox_full.add_metric([route], counts[11])
            write_paused.add_metric([route], counts[12])
        yield from (messages, payload, pings, pongs, inbox_full, write_paused)

        closes = CounterMetricFamily(
            "bolt_closes", "Connections closed, by close code and by who started the closing", labels=["route", "code", "side"]
        )
        for (route, code, side), count in sorted(tally.closes.items()):
            closes.add_metric([route, str(code), side], count)
        yield closes

        errors = CounterMetricFamily("bolt_handler_exceptions", "Handlers that raised (closed 1011)", labels=["route"])
        for route, count in sorted(tally.handler_errors.items()):
            errors.add_metric([route], count)
        yield errors

        rtt = HistogramMetricFamily(
            "bolt_pong_rtt_seconds", "Round trip of a ping to its pong", labels=["route"]
        )
        for route, (buckets, total, count) in sorted(tally.rtt.items()):
            cumulative, running = [], 0
            for bound, in_bucket in zip((*map(str, RTT_BUCKETS), "+Inf"), buckets):
                running += in_bucket
                cumulative.append((bound, running))
            rtt.add_metric([route], cumulative, sum_value=total)
        yield rtt

        stats = self.hub.stats
        yield GaugeMetricFamily("bolt_group_members", "Group memberships on this process", value=self.hub.memberships())
        broadcasts = CounterMetricFamily("bolt_broadcasts", "Broadcasts made on this process", value=stats.published)
        yield broadcasts
        dropped = CounterMetricFamily(
            "bolt_broadcast_dropped", "Broadcast messages not delivered, by reason", labels=["reason"]
        )
        dropped.add_metric(["slow_member"], stats.dropped)
        dropped.add_metric(["broker_unreachable"], stats.remote_dropped)
        dropped.add_metric(["invalid_remote"], stats.remote_invalid)
        yield dropped
        yield CounterMetricFamily("bolt_slow_members_closed", "Slow members closed with 1013", value=stats.closed)
