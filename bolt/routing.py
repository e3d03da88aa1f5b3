"""Routes: path templates compiled once, at registration, and matched against request paths.

A template is a path with parameters in braces::

    /ws/echo                  static: looked up in a dict
    /ws/room/{room_id}        one segment (no "/", not empty), a str
    /items/{id:int}           typed: int, float, uuid, str, path
    /files/{rest:path}        the rest of the path, slashes included (only at the end)

A typed segment that does not fit (``/items/abc`` for ``{id:int}``) is no match, so the server answers
404; the value of one that fits arrives converted (``int``, ``float``, ``uuid.UUID``, ``str``).

Matching is on ``Request.path``, which the HTTP parser has already percent-decoded: ``%2F`` has become
``/`` by then, so a ``{name}`` segment never holds a slash; only ``{name:path}`` does. Paths are
compared exactly: ``/ws/echo/`` is not ``/ws/echo`` (no redirects; bolt is not an HTTP framework).

Order: static routes first (so ``/users/me`` wins over ``/users/{id}`` whichever was added first),
then templated routes in registration order.

What the server answers when ``match(path, kind, method)`` finds nothing, from ``match_any(path)``:

- no route at all for the path: 404;
- a WebSocket route for the path, but the request is no upgrade: 426 (``Sec-WebSocket-Version: 13``);
- only http routes for the path, none with this method: 405, ``Allow: allowed_methods(path)``.

This module is pure: no asyncio, no I/O.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["Converter", "CONVERTERS", "Route", "Router"]

KINDS = ("websocket", "http")


class Converter:
    """How one typed segment matches (``regex``, with no group of its own) and becomes a value.

    ``convert`` raises ``ValueError`` for a string the regex let through but that is still no value of
    the type (an int of 5,000 digits, a float that overflows): the path is then simply not a match.
    """

    __slots__ = ("name", "regex", "convert")

    def __init__(self, name: str, regex: str, convert: Callable[[str], object]) -> None:
        self.name = name
        self.regex = regex
        self.convert = convert

    def __repr__(self) -> str:
        return f"Converter({self.name!r}, {self.regex!r})"


def _to_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # so many digits that it overflowed
        raise ValueError(text)
    return value


def _identity(text: str) -> str:
    return text


_HEX = "[0-9a-fA-F]"
CONVERTERS: dict[str, Converter] = {
    converter.name: converter
    for converter in (
        Converter("str", "[^/]+", _identity),
        # ASCII digits only: int() would also take "1_000", " 7" and other scripts' digits.
        Converter("int", "-?[0-9]+", int),
        # No exponent, nan or inf: what a path segment meant as a number looks like.
        Converter("float", r"-?[0-9]+(?:\.[0-9]+)?", _to_float),
        # The canonical hyphenated form only, so one UUID has one URL.
        Converter("uuid", f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}", uuid.UUID),
        # Possibly empty: "/static/{rest:path}" matches "/static/" with rest "".
        Converter("path", ".*", _identity),
    )
}

# A parameter is "{" + anything but braces + "}"; a brace anywhere else is malformed.
_PARAMETER = re.compile(r"\{([^{}]*)\}")


class _Template:
    """What compiling a template yields. ``regex`` is None for a static path."""

    __slots__ = ("regex", "names", "converters", "shape", "prefix")

    def __init__(self, path: str) -> None:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"route path {path!r} must start with '/'")
        if "?" in path or "#" in path:
            # Requests are matched on the path alone: a query or fragment here could never match.
            raise ValueError(f"route path {path!r} must not contain '?' or '#'")
        names: list[str] = []
        converters: list[Converter] = []
        regex_parts: list[str] = []
        shape_parts: list[str] = []
        end = 0
        for found in _PARAMETER.finditer(path):
            literal = path[end : found.start()]
            _check_literal(path, literal)
            regex_parts.append(re.escape(literal))
            shape_parts.append(literal)
            name, converter = _parse_parameter(path, found.group(1))
            if name in names:
                raise ValueError(f"route path {path!r}: duplicate parameter name {name!r}")
            if converter.name == "path" and found.end() != len(path):
                raise ValueError(f"route path {path!r}: {{{name}:path}} must be the last part of the path")
            names.append(name)
            converters.append(converter)
            regex_parts.append(f"(?P<{name}>{converter.regex})")
            shape_parts.append(f"{{:{converter.name}}}")
            end = found.end()
        _check_literal(path, path[end:])
        regex_parts.append(re.escape(path[end:]))
        shape_parts.append(path[end:])

        self.names = tuple(names)
        self.converters = tuple(converters)
        self.regex = re.compile("".join(regex_parts)) if names else None
        # The template with its names erased: "/a/{x}" and "/a/{y}" are the same route twice.
        self.shape = "".join(shape_parts)
        # The whole segments before the first parameter; a path must begin with them to match.
        prefix = []
        for segment in path[1:].split("/"):
            if "{" in segment:
                break
            prefix.append(segment)
        self.prefix = tuple(prefix)


def _check_literal(path: str, literal: str) -> None:
    if "{" in literal or "}" in literal:
        raise ValueError(f"route path {path!r}: malformed braces (a '{{' or '}}' without its pair)")


def _parse_parameter(path: str, inside: str) -> tuple[str, Converter]:
    name, colon, converter_name = inside.partition(":")
    name = name.strip()
    converter_name = converter_name.strip() if colon else "str"
    if not name.isidentifier():
        raise ValueError(f"route path {path!r}: parameter name {name!r} in {{{inside}}} is not a Python identifier")
    converter = CONVERTERS.get(converter_name)
    if converter is None:
        known = ", ".join(CONVERTERS)
        raise ValueError(f"route path {path!r}: unknown converter {converter_name!r} in {{{inside}}} (known: {known})")
    return name, converter


class Route:
    """One registered route: its template, handler, kind and whatever the caller stores with it.

    ``methods`` is the frozenset of HTTP methods an http route answers (``GET`` brings ``HEAD``
    along); a WebSocket route's is ``{"GET"}``, the only method of an upgrade (RFC 6455 §4.1).
    ``options`` holds the caller's own data (auth, guards, the parameter plan).
    """

    __slots__ = (
        "path",
        "endpoint",
        "kind",
        "methods",
        "options",
        "param_names",
        "_regex",
        "_typed",
        "_index",
    )

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        kind: str,
        methods: frozenset[str],
        options: dict[str, Any],
        template: _Template,
        index: int,
    ) -> None:
        self.path = path
        self.endpoint = endpoint
        self.kind = kind
        self.methods = methods
        self.options = options
        self.param_names = template.names
        self._regex = template.regex
        # Only the parameters whose text needs converting: a str one's matched text is its value.
        self._typed = tuple(
            (name, converter.convert)
            for name, converter in zip(template.names, template.converters)
            if converter.convert is not _identity
        )
        self._index = index

    def match(self, path: str) -> dict[str, object] | None:
        """The converted path parameters if ``path`` fits this route's template, else None."""
        regex = self._regex
        if regex is None:
            return {} if path == self.path else None
        found = regex.fullmatch(path)
        if found is None:
            return None
        params = found.groupdict()
        for name, convert in self._typed:
            try:
                params[name] = convert(params[name])
            except ValueError:
                return None
        return params

    def __repr__(self) -> str:
        methods = f" {'|'.join(sorted(self.methods))}" if self.kind == "http" else ""
        name = getattr(self.endpoint, "__qualname__", repr(self.endpoint))
        return f"<Route {self.kind}{methods} {self.path} -> {name}>"


class _Node:
    """A node of the prefix index: the routes whose literal prefix ends here, and deeper segments."""

    __slots__ = ("routes", "children")

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.children: dict[str, _Node] = {}


class Router:
    """The routes of an application, and the lookup of a request path among them.

    Static paths sit in a dict. Templated routes sit in a tree keyed by the literal segments that begin
    their template (``/ws/room/{room_id}`` under ``ws`` then ``room``), so a lookup only tries the
    regexes of routes that could match; thousands of routes under distinct prefixes cost a few dict
    lookups. The candidates are still tried in registration order.
    """

    __slots__ = ("_routes", "_static", "_tree", "_shapes")

    def __init__(self) -> None:
        self._routes: list[Route] = []
        self._static: dict[str, list[Route]] = {}
        self._tree = _Node()
        # (kind, shape) -> methods taken, to refuse the same method and template twice.
        self._shapes: dict[tuple[str, str], set[str]] = {}

    def add(
        self,
        path: str,
        endpoint: Callable[..., Any],
        kind: str = "websocket",
        methods: Iterable[str] | None = None,
        **options: Any,
    ) -> Route:
        """Register ``endpoint`` for ``path``; ``ValueError`` for a bad template or a duplicate route."""
        if kind not in KINDS:
            raise ValueError(f"route kind must be 'websocket' or 'http', not {kind!r}")
        if not callable(endpoint):
            raise TypeError(f"route {path!r}: the endpoint must be callable, not {endpoint!r}")
        method_set = _methods(path, kind, methods)
        template = _Template(path)

        taken = self._shapes.setdefault((kind, template.shape), set())
        clash = taken & method_set
        if clash:
            what = "a WebSocket route" if kind == "websocket" else f"an http route for {', '.join(sorted(clash))}"
            raise ValueError(f"route path {path!r}: {what} with this path is already registered")
        taken |= method_set

        route = Route(path, endpoint, kind, method_set, options, template, len(self._routes))
        self._routes.append(route)
        if template.regex is None:
            self._static.setdefault(path, []).append(route)
        else:
            node = self._tree
            for segment in template.prefix:
                node = node.children.setdefault(segment, _Node())
            node.routes.append(route)
        return route

    def match(self, path: str, kind: str, method: str | None = None) -> tuple[Route, dict[str, object]] | None:
        """The first route of ``kind`` (answering ``method``, when given) that ``path`` fits, with its
        converted parameters; None when there is none."""
        static = self._static.get(path)
        if static is not None:
            for route in static:
                if route.kind == kind and (method is None or method in route.methods):
                    return route, {}
        for route in self._candidates(path):
            if route.kind != kind or (method is not None and method not in route.methods):
                continue
            params = route.match(path)
            if params is not None:
                return route, params
        return None

    def match_any(self, path: str) -> list[tuple[Route, dict[str, object]]]:
        """Every route, of any kind and method, that ``path`` fits: static ones first, then in
        registration order. What the server reads to tell 404 from 405 from 426."""
        found: list[tuple[Route, dict[str, object]]] = [(route, {}) for route in self._static.get(path, ())]
        for route in self._candidates(path):
            params = route.match(path)
            if params is not None:
                found.append((route, params))
        return found

    def path_exists(self, path: str) -> bool:
        """True if any route, of any kind, fits ``path``."""
        if path in self._static:
            return True
        return any(route.match(path) is not None for route in self._candidates(path))

    def allowed_methods(self, path: str) -> frozenset[str]:
        """The methods the http routes fitting ``path`` answer: the ``Allow`` header of a 405."""
        return frozenset(method for route, _ in self.match_any(path) if route.kind == "http" for method in route.methods)

    @property
    def routes(self) -> tuple[Route, ...]:
        """Every route, in registration order."""
        return tuple(self._routes)

    def __len__(self) -> int:
        return len(self._routes)

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes)

    def _candidates(self, path: str) -> list[Route]:
        """The templated routes whose literal prefix ``path`` begins with, in registration order."""
        node = self._tree
        groups = [node.routes] if node.routes else []
        for segment in path[1:].split("/"):
            node = node.children.get(segment)  # type: ignore[assignment]  # None ends the walk just below
            if node is None:
                break
            if node.routes:
                groups.append(node.routes)
        if len(groups) == 1:
            return groups[0]
        if not groups:
            return []
        return sorted((route for group in groups for route in group), key=_registration_order)


def _registration_order(route: Route) -> int:
    return route._index


def _methods(path: str, kind: str, methods: Iterable[str] | None) -> frozenset[str]:
    if kind == "websocket":
        if methods is not None:
            raise ValueError(f"route path {path!r}: methods apply to http routes only (an upgrade is a GET)")
        return frozenset({"GET"})
    if methods is None:
        return frozenset({"GET", "HEAD"})
    if isinstance(methods, str):
        raise TypeError(f"route path {path!r}: methods must be a collection of names, e.g. ['GET'], not a str")
    names = set()
    for method in methods:
        if not isinstance(method, str) or not re.fullmatch(r"[A-Za-z]+", method):
            raise ValueError(f"route path {path!r}: {method!r} is not an HTTP method")
        names.add(method.upper())
    if not names:
        raise ValueError(f"route path {path!r}: an http route needs at least one method")
    if "GET" in names:
        # A HEAD is a GET without the body (RFC 9110 §9.3.2); the server drops the body.
        names.add("HEAD")
    return frozenset(names)
