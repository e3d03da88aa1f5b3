"""Handler parameters: the signature read once, at registration, into a plan resolved per connection.

``analyze(handler, path_param_names, inject)`` looks at every parameter of the handler and decides
where its value comes from and how it is coerced:

- annotated with a type in ``inject`` (or a subclass), e.g. ``websocket: WebSocket``: the object the
  server passes to ``resolve()`` under that name. An unannotated parameter named like one of them
  (``async def echo(websocket)``) gets it too, rather than being read from the query and failing;
- named in the path template (``/ws/room/{room_id}`` and ``room_id``): the path value;
- ``Annotated[str, Header()]`` / ``Cookie()`` / ``Query(alias=...)``: that header, cookie or query key;
- anything else: the query parameter of the same name (``token: str | None = None``).

Coercion follows the annotation: ``str``; ``int`` (ASCII digits, optional sign); ``float`` (finite, no
``nan``/``inf``); ``bool`` (true/false, 1/0, yes/no, on/off, any case); ``uuid.UUID``; ``Enum``
subclasses (by value, then by name); ``X | None``; ``list[X]`` (every value of a repeated query key, or
every field of a header, each coerced); ``Any`` or no annotation takes the text as it is. Anything
else is refused at registration with ``TypeError``, as are ``*args``, ``**kwargs`` and positional-only
parameters.

Missing values:

- a parameter with a default gets the default; ``X | None`` without one gets ``None``;
- ``list[X]`` without a default gets ``[]``: a repeated key occurs zero or more times, and "none" is
  what a form with nothing ticked sends. A list default is copied for each connection;
- anything else is required: its absence is a ``ParameterError`` (HTTP 400).

A key given twice for a scalar parameter yields the first value, as ``Headers.get`` does. A blank
value (``?count=``) is a value: ``""`` for ``str``, a 400 for ``int``. Path values the router already
converted (``{id:int}``) pass unchanged when they are of the annotated type, and are coerced from their
text otherwise (``{room_id}`` with ``room_id: int``); an unannotated path parameter keeps the router's
value.

This module is pure: no asyncio, no server, no WebSocket import; the server tells ``analyze`` what it
injects.
"""

from __future__ import annotations

import enum
import functools
import inspect
import math
import re
import types
import typing
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any, Union
from urllib.parse import parse_qsl

from bolt.exceptions import HandshakeError

__all__ = ["Cookie", "Header", "ParameterError", "Plan", "Query", "analyze", "parse_cookies", "parse_query"]

class ParameterError(HandshakeError):
    """A parameter is missing or does not coerce: the upgrade is refused with a 400 naming it.

    The message names the parameter and what it expects, never the value received: a query,
    header or cookie value may be a credential (``?token=...``), and a 400 body is no place for it.

    ``name`` is the key the client sent or should have sent (the header, cookie or query key, the
    path parameter's name), ``location`` one of "path", "query", "header", "cookie". A
    ``HandshakeError``, so the server answers it like any other refused handshake.
    """

    status = 400

    def __init__(self, message: str, name: str | None, location: str) -> None:
        super().__init__(message, 400)
        self.name = name
        self.location = location

    def __repr__(self) -> str:
        return f"ParameterError({self.reason!r}, name={self.name!r}, location={self.location!r})"


# -- markers -------------------------------------------------------------------------------------


class _Marker:
    __slots__ = ("alias",)
    location = ""

    def __init__(self, alias: str | None = None) -> None:
        if alias is not None and (not isinstance(alias, str) or not alias):
            raise ValueError(f"{type(self).__name__}(alias=...) must be a non-empty str, not {alias!r}")
        self.alias = alias

    def key_for(self, parameter: str) -> str:
        return self.alias or parameter

    def __repr__(self) -> str:
        return f"{type(self).__name__}({'' if self.alias is None else repr(self.alias)})"


class Header(_Marker):
    """``Annotated[str, Header()]``: a request header, matched case-insensitively.

    Without an alias the name is the parameter's with ``_`` as ``-`` (``x_token`` reads ``X-Token``).
    ``list[X]`` takes every field of that name.
    """

    __slots__ = ()
    location = "header"

    def key_for(self, parameter: str) -> str:
        return self.alias or parameter.replace("_", "-")


class Cookie(_Marker):
    """``Annotated[str, Cookie()]``: a cookie, by the parameter's name unless aliased (case-sensitive)."""

    __slots__ = ()
    location = "cookie"


class Query(_Marker):
    """``Annotated[str, Query(alias="q")]``: a query parameter under another key than the parameter's."""

    __slots__ = ()
    location = "query"


# -- coercion ------------------------------------------------------------------------------------

# Strict forms: int() and float() would also take " 7", "1_000", other scripts' digits, "nan", "inf".
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _to_int(text: str) -> int:
    if _INT.fullmatch(text) is None:
        raise ValueError(text)
    return int(text)  # ValueError past Python's limit on digits, too


def _to_float(text: str) -> float:
    if _FLOAT.fullmatch(text) is None:
        raise ValueError(text)
    value = float(text)
    if not math.isfinite(value):  # "1e999"
        raise ValueError(text)
    return value


def _to_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(text)


def _to_uuid(text: str) -> uuid.UUID:
    return uuid.UUID(text)


class _Coercer:
    """How text becomes a value of one type: ``convert`` (None when the text is the value), what an
    error says was expected, and the type a router-converted path value may already be."""

    __slots__ = ("convert", "expected", "accepts")

    def __init__(self, convert: Callable[[str], object] | None, expected: str, accepts: type) -> None:
        self.convert = convert
        self.expected = expected
        self.accepts = accepts


_SCALARS: dict[object, _Coercer] = {
    str: _Coercer(None, "a string", str),
    int: _Coercer(_to_int, "an integer", int),
    float: _Coercer(_to_float, "a number", float),
    bool: _Coercer(_to_bool, "a boolean (true/false, 1/0, yes/no, on/off)", bool),
    uuid.UUID: _Coercer(_to_uuid, "a UUID", uuid.UUID),
}
# Any, or no annotation: text from the request as it is, a path value as the router converted it
# (the template said which type it is).
_ANYTHING = _Coercer(None, "a string", object)
_SUPPORTED = "str, int, float, bool, uuid.UUID, Enum subclasses, X | None, list[X], Any"


def _enum_coercer(enum_type: type[enum.Enum]) -> _Coercer:
    # Built once: text -> member, by value (as text) first, then by name (aliases included).
    by_value = {str(member.value): member for member in enum_type}
    by_name = dict(enum_type.__members__)

    def convert(text: str) -> enum.Enum:
        member = by_value.get(text)
        if member is None:
            member = by_name.get(text)
            if member is None:
                raise ValueError(text)
        return member

    choices = ", ".join(repr(value) for value in list(by_value)[:10])
    more = ", ..." if len(by_value) > 10 else ""
    return _Coercer(convert, f"one of {choices}{more}", enum_type)


def _scalar_coercer(annotation: object) -> _Coercer | None:
    while hasattr(annotation, "__supertype__"):  # typing.NewType("UserId", int) reads as int
        annotation = annotation.__supertype__
    if annotation is Any or annotation is inspect.Parameter.empty:
        return _ANYTHING
    coercer = _SCALARS.get(annotation)
    if coercer is not None:
        return coercer
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _enum_coercer(annotation)
    return None


# -- the plan ------------------------------------------------------------------------------------

_MISSING: Any = object()
# Sources of a value. Small ints compared with "is": the resolve loop is the per-connection hot path.
_PATH, _QUERY, _HEADER, _COOKIE, _INJECT = range(5)
_LOCATIONS = ("path", "query", "header", "cookie", "injected")
_LABELS = ("path parameter", "query parameter", "header", "cookie", "injected value")


class Plan:
    """Where each of a handler's parameters comes from, and how it is coerced; built by ``analyze``.

    ``resolve()`` turns one request's values into the handler's keyword arguments. ``needs_query``,
    ``needs_headers`` and ``needs_cookies`` say whether the plan reads them at all, so the server can
    skip parsing what no parameter uses.
    """

    __slots__ = ("endpoint", "_steps", "needs_query", "needs_headers", "needs_cookies")

    def __init__(self, endpoint: Callable[..., Any], steps: list[tuple[Any, ...]]) -> None:
        self.endpoint = endpoint
        # One tuple per parameter:
        # (kwarg, source, key, convert, expected, accepts, default, many)
        self._steps = tuple(steps)
        sources = {step[1] for step in steps}
        self.needs_query = _QUERY in sources
        self.needs_headers = _HEADER in sources
        self.needs_cookies = _COOKIE in sources

    @property
    def parameters(self) -> dict[str, tuple[str, str]]:
        """``{parameter: (location, key)}``, e.g. ``{"token": ("query", "token")}``: for docs and tests."""
        return {step[0]: (_LOCATIONS[step[1]], step[2]) for step in self._steps}

    def resolve(
        self,
        *,
        path_params: Mapping[str, object],
        query: Sequence[tuple[str, str]],
        headers: Any,
        cookies: Mapping[str, str],
        **injected: object,
    ) -> dict[str, object]:
        """The handler's keyword arguments for one request; ``ParameterError`` for a value missing or
        not coercible. ``headers`` needs ``get(name)`` and ``get_all(name)``, case-insensitive."""
        kwargs: dict[str, object] = {}
        first: dict[str, str] | None = None
        for kwarg, source, key, convert, expected, accepts, default, many in self._steps:
            if source is _QUERY:
                if many:
                    raw: Any = [value for name, value in query if name == key] or _MISSING
                else:
                    if first is None:
                        # Reversed, so the first of a repeated key is the one left standing.
                        first = dict(reversed(query)) if query else {}
                    raw = first.get(key, _MISSING)
            elif source is _PATH:
                raw = path_params[key]
                if isinstance(raw, accepts):
                    kwargs[kwarg] = raw
                    continue
                if not isinstance(raw, str):
                    raw = str(raw)  # a router-converted value, back to text for another type
            elif source is _HEADER:
                if many:
                    raw = headers.get_all(key) or _MISSING
                else:
                    raw = headers.get(key)
                    if raw is None:
                        raw = _MISSING
            elif source is _COOKIE:
                raw = cookies.get(key, _MISSING)
            else:
                try:
                    kwargs[kwarg] = injected[key]
                except KeyError:
                    raise TypeError(f"Plan.resolve() needs {key}=... for parameter {kwarg!r}") from None
                continue

            if raw is _MISSING:
                if default is _MISSING:
                    raise ParameterError(f"missing required {_LABELS[source]} {key!r}", key, _LOCATIONS[source])
                kwargs[kwarg] = list(default) if type(default) is list else default
            elif convert is None:
                kwargs[kwarg] = raw
            elif many:
                values = []
                for text in raw:
                    try:
                        values.append(convert(text))
                    except ValueError:
                        raise _bad_value(source, key, expected) from None
                kwargs[kwarg] = values
            else:
                try:
                    kwargs[kwarg] = convert(raw)
                except ValueError:
                    raise _bad_value(source, key, expected) from None
        return kwargs

    def __repr__(self) -> str:
        name = getattr(self.endpoint, "__qualname__", repr(self.endpoint))
        return f"<Plan {name} {self.parameters}>"


def _bad_value(source: int, key: str, expected: str) -> ParameterError:
    return ParameterError(f"{_LABELS[source]} {key!r}: expected {expected}", key, _LOCATIONS[source])


# -- reading the signature -----------------------------------------------------------------------


def analyze(
    endpoint: Callable[..., Any],
    path_param_names: Iterable[str] = (),
    inject: Mapping[type, str] | None = None,
) -> Plan:
    """Read ``endpoint``'s signature into a ``Plan``; ``TypeError`` for what cannot be resolved."""
    inject = dict(inject or {})
    path_names = frozenset(path_param_names)
    where = f"handler {getattr(endpoint, '__qualname__', None) or type(endpoint).__qualname__!r}"
    try:
        signature = inspect.signature(endpoint)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{where}: cannot read its signature: {exc}") from None
    hints = _type_hints(endpoint, where)

    steps = []
    for parameter in signature.parameters.values():
        name = parameter.name
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            star = "*" if parameter.kind is parameter.VAR_POSITIONAL else "**"
            raise TypeError(f"{where}: {star}{name} is not supported; declare each parameter by name")
        if parameter.kind is parameter.POSITIONAL_ONLY:
            raise TypeError(f"{where}: parameter {name!r} is positional-only; bolt passes parameters by keyword")
        steps.append(_step(where, name, hints.get(name, parameter.empty), parameter.default, path_names, inject))
    return Plan(endpoint, steps)


def _type_hints(endpoint: Callable[..., Any], where: str) -> dict[str, Any]:
    target: Any = endpoint
    while isinstance(target, functools.partial):
        target = target.func
    if inspect.isclass(target):
        target = target.__init__
    elif not (inspect.isfunction(target) or inspect.ismethod(target)):
        target = type(target).__call__  # a callable object: its __call__ holds the annotations
    try:
        # include_extras keeps Annotated markers; get_type_hints evaluates string annotations, so
        # handlers in modules with "from __future__ import annotations" work.
        return typing.get_type_hints(target, include_extras=True)
    except Exception as exc:  # NameError for a name not importable at run time, among others
        raise TypeError(
            f"{where}: cannot evaluate its annotations ({exc}); with 'from __future__ import annotations' "
            "every annotation must name something importable at module level"
        ) from None


def _step(
    where: str,
    name: str,
    annotation: Any,
    default: Any,
    path_names: frozenset[str],
    inject: dict[type, str],
) -> tuple[Any, ...]:
    base, markers = _unwrap_annotated(annotation)
    base, optional = _unwrap_optional(base)
    base, more = _unwrap_annotated(base)  # Optional[Annotated[X, Header()]]
    markers += more
    if len(markers) > 1:
        raise TypeError(f"{where}: parameter {name!r} has more than one of Header(), Cookie(), Query()")
    marker = markers[0] if markers else None
    default = _MISSING if default is inspect.Parameter.empty else default
    if default is _MISSING and optional:
        default = None

    injected_as = _injected_as(base, inject)
    if injected_as is None and annotation is inspect.Parameter.empty and name in inject.values():
        injected_as = name
    if injected_as is not None:
        if marker is not None:
            raise TypeError(f"{where}: parameter {name!r} is supplied by the server; it takes no {marker!r}")
        return (name, _INJECT, injected_as, None, "", None, _MISSING, False)

    if name in path_names:
        if marker is not None:
            raise TypeError(f"{where}: parameter {name!r} is a path parameter of the route; remove its {marker!r}")
        source, key = _PATH, name
    elif marker is None:
        source, key = _QUERY, name
    else:
        source = {"query": _QUERY, "header": _HEADER, "cookie": _COOKIE}[marker.location]
        key = marker.key_for(name)

    many = typing.get_origin(base) is list or base is list
    if many:
        if source in (_PATH, _COOKIE):
            raise TypeError(f"{where}: parameter {name!r}: list[...] is for query parameters and headers only")
        args = typing.get_args(base)
        element = args[0] if args else str
        if default is _MISSING:
            default = []
    else:
        element = base
    coercer = _scalar_coercer(element)
    if coercer is None:
        shown = annotation if not isinstance(annotation, type) else annotation.__qualname__
        raise TypeError(
            f"{where}: parameter {name!r} is annotated {shown}, which bolt cannot read from a "
            f"{_LABELS[source]} (supported: {_SUPPORTED}; or a type the server injects)"
        )
    return (name, source, key, coercer.convert, coercer.expected, coercer.accepts, default, many)


def _unwrap_annotated(annotation: Any) -> tuple[Any, list[_Marker]]:
    if typing.get_origin(annotation) is Annotated:
        markers = [extra for extra in annotation.__metadata__ if isinstance(extra, _Marker)]
        return annotation.__origin__, markers
    return annotation, []


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` and ``Optional[X]`` as (X, True); any other union is left for the coercer to refuse."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = typing.get_args(annotation)
        if type(None) in args:
            rest = [arg for arg in args if arg is not type(None)]
            if len(rest) == 1:
                return rest[0], True
    return annotation, False


def _injected_as(annotation: Any, inject: dict[type, str]) -> str | None:
    if isinstance(annotation, type):
        for injected_type, key in inject.items():
            if issubclass(annotation, injected_type):
                return key
    return None


# -- parsing the query string and cookies --------------------------------------------------------


def parse_query(query_string: str) -> list[tuple[str, str]]:
    """``a=1&b=&a=2`` as ``[("a", "1"), ("b", ""), ("a", "2")]``: blank values kept, ``+`` as a space,
    percent-escapes decoded as strict UTF-8 (``ParameterError`` when they are not UTF-8)."""
    if not query_string:
        return []
    try:
        return parse_qsl(query_string, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise ParameterError("query string is not valid UTF-8 once percent-decoded", None, "query") from None


def parse_cookies(headers: Any) -> dict[str, str]:
    """The cookies of every ``Cookie`` field: ``name=value; name2=value2`` (RFC 6265 §4.2.1).

    Lenient on purpose, unlike ``http.cookies``, which drops every cookie after one it dislikes: a pair
    without ``=`` or with an empty name is skipped, and the rest kept. Values are opaque (no
    percent-decoding); surrounding double quotes are removed. When a name repeats, the first wins:
    browsers send the cookie with the most specific path first (RFC 6265 §5.4).
    """
    cookies: dict[str, str] = {}
    for field in headers.get_all("cookie"):
        for pair in field.split(";"):
            name, equals, value = pair.partition("=")
            name = name.strip()
            if not equals or not name or name in cookies:
                continue
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            cookies[name] = value
    return cookies
