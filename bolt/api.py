"""``BoltAPI``: routes a handshake to its handler, injects typed parameters, runs auth and guards.

Everything before the upgrade is decided here, with a real HTTP answer for each refusal: 404 for an
unknown path, 426 for a plain HTTP request to a WebSocket route, 405 for a wrong method on an HTTP
route, 400 naming a parameter that does not coerce, 401 when no authentication backend accepts the
client, 403 when a guard refuses it (or, with ``auth_failure="close"``, an accepted connection
closed at once with 4001 / 4003: see bolt.auth).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from bolt.auth.base import AuthBackend, AuthenticationFailed, Guard, PermissionDenied, complete_context
from bolt.auth.expiry import ExpiryTimer
from bolt.exceptions import ConfigurationError, ConnectionClosed, HandshakeError, InvalidState, WebSocketDisconnect
from bolt.groups.brokers import Broker, broker_from
from bolt.groups.hub import BroadcastStats, Hub
from bolt.metrics import Collector, Tally
from bolt.origins import OriginPolicy
from bolt.params import ParameterError, analyze, parse_cookies, parse_query
from bolt.protocol.connection import State
from bolt.protocol.http import Request
from bolt.responses import Response, to_response
from bolt.routing import Route, Router
from bolt.transport.session import HandshakingSession
from bolt.transport.settings import Settings
from bolt.websocket import WebSocket, _compact_json

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from bolt.transport.server import Server

# A WebSocket handler (an async function) and an HTTP endpoint, which the decorators return as
# they were given.
_Handler = TypeVar("_Handler", bound=Callable[..., Awaitable[Any]])
_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])

logger = logging.getLogger("bolt")


class BoltAPI:
    """A collection of routes, and the application the server runs for each connection.

    Keyword arguments that name a ``Settings`` field (``max_message_size=...``, ``ping_interval=...``)
    configure the server that runs this API. ``json_loads``/``json_dumps`` replace the standard
    library's JSON (orjson and msgspec fit). ``auth`` and ``guards`` are defaults for every route,
    as are ``auth_failure`` ("refuse": HTTP 401/403 before the upgrade; "close": accept, then close
    4001/4003 with the reason, which browsers can read) and ``close_at_expiry`` (close with 4001
    when the credential expires). ``jwt_secret`` is the secret of every ``JWTAuthentication()``
    made without one (else ``BOLT_JWT_SECRET``).

    ``broker`` carries broadcast groups between processes: a URL (``redis://host:6379/0``), a
    broker object (``bolt.groups``), or ``None`` for the ``BOLT_BROKER`` environment variable,
    else in-process (groups span this process only). ``slow_member`` says what a broadcast does
    to a member whose write buffer holds more than ``slow_member_limit`` bytes: "drop" (it misses
    that message, counted in ``broadcast_stats``) or "close" (closed with 1013).
    """

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        json_loads: Callable[[str | bytes], Any] = json.loads,
        json_dumps: Callable[[Any], str | bytes] = _compact_json,
        auth: Sequence[AuthBackend] | None = None,
        guards: Sequence[Guard] | None = None,
        auth_failure: str = "refuse",
        close_at_expiry: bool = False,
        jwt_secret: str | bytes | None = None,
        allowed_origins: Iterable[str] | None = None,
        allow_missing_origin: bool = True,
        max_connections_per_client: int | None = None,
        max_connections_per_user: int | None = None,
        broker: str | Broker | None = None,
        slow_member: str = "drop",
        slow_member_limit: int = 256 * 1024,
        **setting_values: Any,
    ) -> None:
        unknown = set(setting_values) - Settings.names()
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        self.settings = settings or Settings(**setting_values)
        self.router = Router()
        self.json_loads = json_loads
        self.json_dumps = json_dumps
        self.auth = list(auth or [])
        self.guards = list(guards or [])
        self.auth_failure = _check_auth_failure(auth_failure)
        self.close_at_expiry = close_at_expiry
        self.jwt_secret = jwt_secret
        self.allow_missing_origin = allow_missing_origin
        for name, cap in (("max_connections_per_client", max_connections_per_client), ("max_connections_per_user", max_connections_per_user)):
            if cap is not None and (type(cap) is not int or cap < 1):
                raise ValueError(f"{name} is a positive int or None, not {cap!r}")
        # WebSocket connections (from handshake to handler end) per client address and per user.
        self._per_client = ConnectionCap(max_connections_per_client)
        self._per_user = ConnectionCap(max_connections_per_user)
        self.origins = None if allowed_origins is None else OriginPolicy(allowed_origins, allow_missing=allow_missing_origin)
        # Every backend in use, by identity, for prepare().
        self._backends: dict[int, Any] = {id(backend): backend for backend in self.auth}
        self._prepared = False
        self._failure_listeners: list[Callable[[WebSocket, Exception], None]] = []
        self._hub = Hub(
            broker_from(broker),
            slow_member=slow_member,
            slow_member_limit=slow_member_limit,
            fragment_size=self.settings.fragment_size,
        )
        # What the metrics count (bolt.metrics), once api.metrics() asked for them: None until then.
        self._tally: Tally | None = None
        self._metrics_servers: list[Server] = []
        self._metrics_ports: list[tuple[str, int]] = []
        self._metrics_route: Callable[[], Response] | None = None
        self._startup_hooks: list[Callable[[], Any]] = []
        self._shutdown_hooks: list[Callable[[], Any]] = []
        # Servers running this API in this process: the broker and the hooks start with the first
        # and stop with the last.
        self._serving = 0

    def on_handler_failure(self, listener: Callable[[WebSocket, Exception], None]) -> Callable[[], None]:
        """Call ``listener(websocket, error)`` whenever a handler raises (after it is logged and
        the connection closed 1011); returns a function that removes it. ``TestClient`` uses it to
        re-raise a handler's error in the test."""
        self._failure_listeners.append(listener)
        return lambda: self._failure_listeners.remove(listener)

    # Startup and shutdown

    def on_startup(self, hook: Callable[[], Any]) -> Callable[[], Any]:
        """Register ``hook`` (a function or an async function, no arguments) to run when a server
        starts this API, in each worker, before it listens; hooks run in the order registered,
        after the broker has started. One that raises stops the server from starting."""
        self._startup_hooks.append(hook)
        return hook

    def on_shutdown(self, hook: Callable[[], Any]) -> Callable[[], Any]:
        """Register ``hook`` to run when the server stops, after its connections have closed and
        before the broker stops; hooks run in the order registered, and one that raises is logged
        and does not stop the others."""
        self._shutdown_hooks.append(hook)
        return hook

    async def startup(self) -> None:
        """Called by the server before it listens: starts the broker, then the startup hooks."""
        self._serving += 1
        if self._serving > 1:
            return
        try:
            await self._hub.start()
            await self._start_metrics_listeners()
            for hook in self._startup_hooks:
                await _maybe_await(hook())
        except BaseException:
            self._serving -= 1
            await self._stop_metrics_listeners()
            await self._hub.stop()
            raise

    async def shutdown(self) -> None:
        """Called by the server once its connections are closed: the shutdown hooks, then the
        broker stops (sending what it still holds first)."""
        if self._serving == 0:
            return
        self._serving -= 1
        if self._serving > 0:
            return
        for hook in self._shutdown_hooks:
            try:
                await _maybe_await(hook())
            except Exception:
                logger.exception("shutdown hook %s failed", getattr(hook, "__qualname__", hook))
        await self._stop_metrics_listeners()
        await self._hub.stop()

    async def _start_metrics_listeners(self) -> None:
        if not self._metrics_ports:
            return
        from bolt.transport.server import Server

        listener = BoltAPI()
        listener.get("/metrics")(self._metrics_route)  # type: ignore[type-var]  # set with the ports
        for host, port in self._metrics_ports:
            server = Server(listener)
            # Workers share the port as they share the main one; a scrape reaches one of them.
            await server.start(host, port, reuse_port=True)
            self._metrics_servers.append(server)

    async def _stop_metrics_listeners(self) -> None:
        servers, self._metrics_servers = self._metrics_servers, []
        for server in servers:
            await server.shutdown(timeout=1.0)

    # Metrics (bolt.metrics)

    def metrics(
        self,
        path: str | None = "/metrics",
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        registry: CollectorRegistry | None = None,
    ) -> CollectorRegistry:
        """Serve Prometheus metrics at ``path`` on this API's own port and/or on ``port`` (a
        separate listener, started with the server, so that the metrics need not be public).
        ``registry`` is a ``prometheus_client.CollectorRegistry`` to add bolt's collector to
        (``prometheus_client.REGISTRY`` to expose your own metrics beside); by default, one of its
        own. Returns the registry. Needs ``pip install 'bolt-ws[metrics]'``."""
        try:
            from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
        except ImportError:
            raise ConfigurationError("metrics need prometheus-client: pip install 'bolt-ws[metrics]'") from None
        if self._tally is None:
            self._tally = Tally()
        registry = registry if registry is not None else CollectorRegistry(auto_describe=False)
        registry.register(Collector(self._tally, self._hub))

        def scrape() -> Response:
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

        if path is not None:
            self.get(path)(scrape)
        if port is not None:
            self._metrics_ports.append((host, port))
            self._metrics_route = scrape
        return registry

    def answered(self, session: HandshakingSession, status: int) -> None:
        """Called by the server for every HTTP answer: counts the WebSocket handshakes' statuses."""
        if self._tally is None:
            return
        request = session.request  # None for a request that did not parse (400) or never came (408)
        if request is None or "websocket" in request.headers.get("Upgrade", "").lower():
            self._tally.answered(session.route, status)

    # Groups and broadcast (bolt.groups)

    async def broadcast(
        self, group: str, data: str | bytes | bytearray | memoryview, *, exclude: WebSocket | None = None
    ) -> int:
        """Send ``data`` to every member of ``group``, on this process and on every other one that
        shares the broker: ``str`` as text, bytes-like as binary; ``exclude`` skips one WebSocket
        (the sender). It is framed once and never waits on a member: one whose write buffer is
        over ``slow_member_limit`` misses it, or is closed with 1013 (``slow_member="close"``).
        Delivery is at most once, in publish order per publisher. Returns how many members on
        this process it was written to. Needs no connection: a background task may publish."""
        return self._hub.broadcast(group, data, exclude)

    async def broadcast_json(
        self, group: str, data: Any, *, exclude: WebSocket | None = None, mode: str = "text"
    ) -> int:
        """``broadcast()`` of ``data`` encoded with the API's JSON encoder, as text or binary."""
        encoded = self.json_dumps(data)
        if mode == "binary":
            return self._hub.broadcast(group, encoded.encode("utf-8") if isinstance(encoded, str) else encoded, exclude)
        if mode == "text":
            return self._hub.broadcast(group, encoded if isinstance(encoded, str) else encoded.decode("utf-8"), exclude)
        raise ValueError(f"mode is 'text' or 'binary', not {mode!r}")

    def group_size(self, group: str) -> int:
        """How many connections on this process are in ``group``."""
        return self._hub.size(group)

    @property
    def broadcast_stats(self) -> BroadcastStats:
        """What broadcasting has done on this process: published, delivered, dropped for slow
        members, slow members closed, dropped for other processes (broker unreachable)."""
        return self._hub.stats

    @property
    def broker(self) -> Broker:
        return self._hub.broker

    def use_broker(self, broker: str | Broker) -> None:
        """Replace the broker (a URL or a broker object), before any server runs this API: the
        command line's ``--broker``."""
        if self._serving:
            raise InvalidState("the broker cannot change while a server runs this API")
        self._hub.broker = broker_from(broker)

    # Registration

    def websocket(
        self,
        path: str,
        *,
        auth: Sequence[AuthBackend] | None = None,
        guards: Sequence[Guard] | None = None,
        auth_failure: str | None = None,
        close_at_expiry: bool | None = None,
        allowed_origins: Iterable[str] | None = None,
    ) -> Callable[[_Handler], _Handler]:
        """Register an async handler for WebSocket connections to ``path``; the keyword arguments
        override the API's defaults for this route."""
        if auth_failure is not None:
            _check_auth_failure(auth_failure)
        origins = (
            self.origins
            if allowed_origins is None
            else OriginPolicy(allowed_origins, allow_missing=self.allow_missing_origin)
        )

        def register(handler: _Handler) -> _Handler:
            if not inspect.iscoroutinefunction(handler):
                raise TypeError(f"WebSocket handler {handler.__qualname__} must be an async function")
            route = self.router.add(path, handler, kind="websocket")
            route.options["plan"] = analyze(handler, route.param_names, {WebSocket: "websocket"})
            route.options["auth"] = self.auth if auth is None else list(auth)
            route.options["guards"] = self.guards if guards is None else list(guards)
            route.options["auth_failure"] = self.auth_failure if auth_failure is None else auth_failure
            route.options["close_at_expiry"] = self.close_at_expiry if close_at_expiry is None else close_at_expiry
            route.options["origins"] = origins
            for backend in route.options["auth"]:
                if id(backend) not in self._backends:
                    self._backends[id(backend)] = backend
                    self._prepared = False  # a route added while serving: prepared on first use
            # The handler as given: iscoroutinefunction()'s TypeGuard narrowed its type above.
            return handler  # type: ignore[return-value]

        return register

    def get(self, path: str) -> Callable[[_Endpoint], _Endpoint]:
        """Register a plain HTTP GET route (a demo page, a health check)."""

        def register(handler: _Endpoint) -> _Endpoint:
            route = self.router.add(path, handler, kind="http", methods=("GET",))
            route.options["plan"] = analyze(handler, route.param_names, {Request: "request"})
            return handler

        return register

    # The application the server runs

    async def __call__(self, session: Any, receive: Any = None, send: Any = None) -> None:
        """The application: bolt's server calls it with a session for each request; an ASGI
        server with ``(scope, receive, send)`` (see ``bolt.asgi``)."""
        if receive is not None:
            from bolt.asgi import serve

            await serve(self, session, receive, send)
            return
        request = session.request
        matches = self.router.match_any(request.path)
        if not matches:
            session.respond(404, "Not Found")
            return
        websocket_match = next((match for match in matches if match[0].kind == "websocket"), None)
        http_match = next(
            (match for match in matches if match[0].kind == "http" and request.method in match[0].methods), None
        )
        wants_upgrade = "websocket" in request.headers.get("Upgrade", "").lower()
        if websocket_match is not None and (wants_upgrade or http_match is None):
            await self._serve_websocket(session, *websocket_match)
        elif http_match is not None:
            await self._serve_http(session, *http_match)
        else:
            allowed = sorted({method for route, _ in matches if route.kind == "http" for method in route.methods})
            session.respond(405, "Method Not Allowed", [("Allow", ", ".join(allowed))])

    async def _serve_websocket(self, session: HandshakingSession, route: Route, path_params: dict[str, object]) -> None:
        request: Request = session.request  # type: ignore[assignment]  # routed: the request has come
        session.route = route.path
        try:
            session.check_upgrade()
        except HandshakeError as error:
            session.respond_error(error)
            return
        origins = route.options["origins"]
        if origins is not None and not origins.allows(request.headers.get_all("Origin")):
            # Before anything else runs: a cross-site page must not reach authentication (which
            # would read the victim's cookie) or the handler. RFC 6455 §4.2.1 item 8, §10.2.
            logger.info("refused %s: origin not allowed (403)", request.path)
            session.respond(403, "Origin not allowed")
            return
        address = session.client[0] if session.client is not None else None
        if not self._per_client.enter(address):
            session.respond(429, "Too many connections from this client", [("Retry-After", "1")])
            return
        try:
            await self._serve_checked(session, route, path_params)
        finally:
            self._per_client.leave(address)

    async def _serve_checked(self, session: HandshakingSession, route: Route, path_params: dict[str, object]) -> None:
        request: Request = session.request  # type: ignore[assignment]  # routed: the request has come
        try:
            query = parse_query(request.query_string)
            cookies = parse_cookies(request.headers)
            websocket = WebSocket(
                session,
                path_params=path_params,
                # The first value of a repeated key, as the handler's parameters take it.
                query_params=dict(reversed(query)),
                cookies=cookies,
                json_loads=self.json_loads,
                json_dumps=self.json_dumps,
                hub=self._hub,
            )
            arguments = route.options["plan"].resolve(
                path_params=path_params, query=query, headers=request.headers, cookies=cookies, websocket=websocket
            )
        except ParameterError as error:
            session.respond(error.status, str(error))
            return
        if not await self._authorize(session, websocket, route):
            return
        user = websocket.context.get("user_id")
        if not self._per_user.enter(user):
            session.respond(429, "Too many connections for this user", [("Retry-After", "1")])
            return
        try:
            await self._run_handler(session, websocket, route, arguments)
        finally:
            websocket._leave_groups()
            self._per_user.leave(user)

    async def _run_handler(
        self, session: HandshakingSession, websocket: WebSocket, route: Route, arguments: dict[str, Any]
    ) -> None:
        tally = self._tally
        if tally is None:
            await self._call_handler(session, websocket, route, arguments)
            return
        tally.opened(route.path, session)
        try:
            await self._call_handler(session, websocket, route, arguments)
        finally:
            tally.ended_with(route.path, session)

    async def _call_handler(
        self, session: HandshakingSession, websocket: WebSocket, route: Route, arguments: dict[str, Any]
    ) -> None:
        try:
            # The handler runs as a task of its own, awaited here (cancelling this task cancels
            # it): a message then resumes the handler's coroutine directly. Awaited in place, every
            # resume and every suspension would pass through each coroutine between the server's
            # task and the handler (six of them), frame by frame: about a microsecond a message
            # (bench/echo, perf).
            await asyncio.get_running_loop().create_task(route.endpoint(**arguments))
        except WebSocketDisconnect:
            pass  # the peer went away: a normal end for a handler
        except Exception as error:
            # Sending on this handler's own closed connection is how a handler learns its peer
            # left: a normal end. Sending to another connection that closed (a broadcast racing a
            # disconnect) is an error the handler left unhandled, and is reported like any other.
            if isinstance(error, ConnectionClosed) and session.state >= State.CLOSING:
                return
            logger.exception("WebSocket handler %s failed", route.endpoint.__qualname__)
            if self._tally is not None:
                self._tally.handler_errors[route.path] += 1
            for listener in self._failure_listeners:
                listener(websocket, error)
            if session.state is State.CONNECTING:
                session.respond(500, "Internal Server Error")
            elif session.state is State.OPEN:
                await session.close(1011)  # no details to the peer; the traceback is in the log
            return
        if session.state is State.CONNECTING:
            # Closing before accepting is a refusal (as in ASGI); close(code) is the way to send one.
            session.respond(403, "The handler refused the connection")
        elif session.state is State.OPEN:
            await session.close(1000)

    def prepare(self) -> None:
        """Called by the server before it listens: backends resolve what they read from the
        environment (the JWT secret), and one that cannot be served raises (``ConfigurationError``),
        so a misconfigured server refuses to start instead of refusing every client."""
        for backend in self._backends.values():
            prepare = getattr(backend, "prepare", None)
            if prepare is not None:
                prepare(self)
        for route in self.router:
            if route.kind != "websocket" or route.options["origins"] is not None:
                continue
            readers = [backend for backend in route.options["auth"] if getattr(backend, "reads_cookies", False)]
            if readers:
                raise ConfigurationError(
                    f"the route {route.path} authenticates by cookie ({readers[0]!r}) but has no allowed_origins: "
                    "browsers send cookies with cross-site WebSocket handshakes, so any web page could act as "
                    "its users (cross-site WebSocket hijacking); pass BoltAPI(allowed_origins=[...]) or the "
                    "route's allowed_origins=[...] (docs/operations.md)"
                )
        self._prepared = True

    async def _authorize(self, session: HandshakingSession, websocket: WebSocket, route: Route) -> bool:
        """Authentication backends in order, the first that accepts fills the context; then every
        guard must agree. A refusal is an HTTP answer before the upgrade (401, 403; 431 or 400 for
        an oversized credential), or with ``auth_failure="close"`` an accepted connection closed
        with 4001 / 4003. The reason is a fixed text: never a credential."""
        if not self._prepared:
            self.prepare()  # served by something other than bolt's Server, which calls it at start
        options = route.options
        backends = options["auth"]
        try:
            if backends:
                await self._authenticate(session, websocket, backends)
            for guard in options["guards"]:
                if not await _maybe_await(guard.has_permission(websocket)):
                    raise PermissionDenied(getattr(guard, "message", None) or "permission denied")
        except AuthenticationFailed as failure:
            await self._refuse(session, websocket, route, failure)
            return False
        expires_at = websocket.context.get("expires_at")
        if expires_at is not None and options["close_at_expiry"]:
            ExpiryTimer(session, expires_at)
        return True

    async def _authenticate(self, session: HandshakingSession, websocket: WebSocket, backends: list[AuthBackend]) -> None:
        offered = websocket.subprotocols
        for backend in backends:
            marker = getattr(backend, "carrier_subprotocol", None)
            if marker is not None and marker in offered:
                # The client carries its token behind this marker: accept the marker, never the
                # token, unless the handler picks another subprotocol (see bolt.auth.tokens).
                session.default_subprotocol = marker
                break
        refused: AuthenticationFailed | None = None
        for backend in backends:
            try:
                identity = await _maybe_await(backend.authenticate(websocket))
            except AuthenticationFailed as failure:
                if failure.status != 401:
                    raise  # an oversized credential is refused outright, not offered to the next backend
                refused = refused or failure
                continue
            if identity:
                websocket.context.update(identity)
                complete_context(websocket.context, backend)
                session.user_id = websocket.context.get("user_id")
                return
        raise refused or AuthenticationFailed(challenge=_challenges(backends))

    async def _refuse(
        self, session: HandshakingSession, websocket: WebSocket, route: Route, failure: AuthenticationFailed
    ) -> None:
        # The path, not the target: the query may hold a token.
        logger.info("refused %s: %s (%d)", session.request.path, failure.reason, failure.status)  # type: ignore[union-attr]  # routed
        if failure.status == 401 and failure.challenge == "Bearer":
            # A guard's 401 names what this route's backends accept (RFC 7235 §4.1).
            failure.challenge = _challenges(route.options["auth"])
        if route.options["auth_failure"] == "close" and session.state is State.CONNECTING:
            try:
                # Closing before accepting completes the handshake first, so a browser sees the code.
                await websocket.close(failure.close_code, _close_reason(failure.reason))
            except (InvalidState, WebSocketDisconnect):
                pass  # the client went away before the 101
        else:
            session.respond(failure.status, failure.reason, failure.headers)

    async def _serve_http(self, session: HandshakingSession, route: Route, path_params: dict[str, object]) -> None:
        request: Request = session.request  # type: ignore[assignment]  # routed: the request has come
        try:
            arguments = route.options["plan"].resolve(
                path_params=path_params,
                query=parse_query(request.query_string),
                headers=request.headers,
                cookies=parse_cookies(request.headers),
                request=request,
            )
        except ParameterError as error:
            session.respond(error.status, str(error))
            return
        response = to_response(await _maybe_await(route.endpoint(**arguments)))
        session.respond(response.status, response.body, response.header_list())

    def run(self, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
        """Serve this API until SIGINT or SIGTERM (see ``bolt.run``)."""
        from bolt.transport.run import run

        self.prepare()  # refuse to start here, before any worker process is forked
        run(self, host, port, **options)


class ConnectionCap:
    """Connections per key (a client address, a user id), at most ``limit`` at once; ``None``
    keys (no address, no authenticated user) and a ``None`` limit are not counted."""

    __slots__ = ("limit", "counts")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.counts: dict[object, int] = {}

    def enter(self, key: object) -> bool:
        if self.limit is None or key is None:
            return True
        count = self.counts.get(key, 0)
        if count >= self.limit:
            return False
        self.counts[key] = count + 1
        return True

    def leave(self, key: object) -> None:
        if self.limit is None or key is None:
            return
        count = self.counts[key] - 1
        if count:
            self.counts[key] = count
        else:
            del self.counts[key]  # no entry per address that ever connected


def _check_auth_failure(mode: str) -> str:
    if mode not in ("refuse", "close"):
        raise ValueError(f"auth_failure is 'refuse' or 'close', not {mode!r}")
    return mode


def _challenges(backends: Sequence[Any]) -> str:
    """One challenge per kind of backend, comma-separated (RFC 7235 §4.1)."""
    challenges = dict.fromkeys(getattr(backend, "challenge", "Bearer") for backend in backends)
    return ", ".join(challenges) or "Bearer"


def _close_reason(reason: str) -> str:
    """At most 123 bytes of UTF-8 (RFC 6455 §5.5: a control frame's payload is 125 bytes)."""
    return reason.encode("utf-8")[:123].decode("utf-8", "ignore")


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value
