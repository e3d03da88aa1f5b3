"""bolt.params: reading a handler's signature into a plan, and resolving it per connection.

Every handler lives in tests/params_handlers.py, which the ``handlers`` fixture loads twice: as written,
and compiled with ``from __future__ import annotations``, so each test runs against both. This file
has no future import of its own: the few handlers defined inside tests use local types, which
stringified annotations could not name.
"""

import __future__
import enum
import functools
import pathlib
import types
import uuid
from typing import Annotated

import pytest

from bolt.exceptions import BoltError, HandshakeError
from bolt.params import Cookie, Header, ParameterError, Plan, Query, analyze, parse_cookies, parse_query
from bolt.protocol.http import Headers

SOURCE = pathlib.Path(__file__).with_name("params_handlers.py")
UUID = "12345678-1234-5678-1234-567812345678"


def load_handlers(future: bool) -> types.ModuleType:
    name = "params_handlers_" + ("stringified" if future else "evaluated")
    module = types.ModuleType(name)
    module.__file__ = str(SOURCE)
    flags = __future__.annotations.compiler_flag if future else 0
    code = compile(SOURCE.read_text(), str(SOURCE), "exec", flags=flags, dont_inherit=True)
    exec(code, module.__dict__)
    return module


MODULES = {mode: load_handlers(mode == "stringified") for mode in ("evaluated", "stringified")}


@pytest.fixture(params=list(MODULES))
def h(request) -> types.ModuleType:
    return MODULES[request.param]


def plan_for(h, handler, path=()) -> Plan:
    return analyze(handler, path, {h.WebSocket: "websocket"})


def resolve(plan, *, path=None, query=(), headers=(), cookies=None, websocket=None):
    return plan.resolve(
        path_params=path or {},
        query=list(query),
        headers=Headers(headers),
        cookies=cookies or {},
        websocket=websocket,
    )


def refused(plan, **request) -> ParameterError:
    with pytest.raises(ParameterError) as info:
        resolve(plan, **request)
    return info.value


def test_the_two_modes_really_differ():
    assert MODULES["evaluated"].connect.__annotations__["token"] == str | None
    assert MODULES["stringified"].connect.__annotations__["token"] == "str | None"


# -- the seed's handlers -------------------------------------------------------------------------


def test_seed_room(h):
    plan = analyze(h.room, ["room_id"], {h.WebSocket: "websocket"})
    ws = h.WebSocket()
    assert resolve(plan, path={"room_id": "lobby"}, websocket=ws) == {"websocket": ws, "room_id": "lobby"}
    assert plan.parameters == {"websocket": ("injected", "websocket"), "room_id": ("path", "room_id")}


def test_seed_connect(h):
    plan = plan_for(h, h.connect)
    ws = h.WebSocket()
    assert resolve(plan, query=[("token", "secret")], websocket=ws) == {"websocket": ws, "token": "secret"}
    assert resolve(plan, websocket=ws) == {"websocket": ws, "token": None}
    assert resolve(plan, query=[("token", "")], websocket=ws)["token"] == ""
    assert plan.needs_query and not plan.needs_headers and not plan.needs_cookies


def test_seed_echo_needs_nothing_from_the_request(h):
    plan = plan_for(h, h.echo)
    assert not (plan.needs_query or plan.needs_headers or plan.needs_cookies)
    assert resolve(plan, query=[("junk", "1")], websocket="ws") == {"websocket": "ws"}


# -- coercion ------------------------------------------------------------------------------------

GOOD = [("s", "hi"), ("i", "-42"), ("f", "2.5"), ("b", "yes"), ("u", UUID), ("c", "green"), ("lv", "2")]


def typed_query(**changes):
    query = dict(GOOD)
    query.update(changes)
    return [(key, value) for key, value in query.items() if value is not None]


def test_every_scalar_type(h):
    kwargs = resolve(plan_for(h, h.typed), query=GOOD, websocket="ws")
    assert kwargs == {
        "websocket": "ws",
        "s": "hi",
        "i": -42,
        "f": 2.5,
        "b": True,
        "u": uuid.UUID(UUID),
        "c": h.Color.GREEN,
        "lv": h.Level.HIGH,
    }
    assert type(kwargs["i"]) is int and type(kwargs["f"]) is float and type(kwargs["b"]) is bool


@pytest.mark.parametrize("text", ["0", "7", "+7", "-7", "007", "123456789012345678901234567890"])
def test_int_accepts(h, text):
    assert resolve(plan_for(h, h.typed), query=typed_query(i=text))["i"] == int(text)


@pytest.mark.parametrize("text", ["", "abc", "1.5", " 7", "7 ", "1_000", "0x10", "١٢", "+", "9" * 5000])
def test_int_refuses(h, text):
    error = refused(plan_for(h, h.typed), query=typed_query(i=text))
    assert (error.name, error.location, error.status) == ("i", "query", 400)
    assert str(error) == "query parameter 'i': expected an integer"


@pytest.mark.parametrize(("text", "value"), [("1", 1.0), ("-2.5", -2.5), (".5", 0.5), ("3.", 3.0), ("1e3", 1000.0)])
def test_float_accepts(h, text, value):
    assert resolve(plan_for(h, h.typed), query=typed_query(f=text))["f"] == value


@pytest.mark.parametrize("text", ["", "nan", "inf", "-Infinity", "1e999", "1,5", "1_0", " 1", "abc"])
def test_float_refuses(h, text):
    error = refused(plan_for(h, h.typed), query=typed_query(f=text))
    assert str(error) == "query parameter 'f': expected a number"


@pytest.mark.parametrize("text", ["true", "True", "TRUE", "1", "yes", "YES", "on", "On"])
def test_bool_true(h, text):
    assert resolve(plan_for(h, h.typed), query=typed_query(b=text))["b"] is True


@pytest.mark.parametrize("text", ["false", "False", "0", "no", "NO", "off", "Off"])
def test_bool_false(h, text):
    assert resolve(plan_for(h, h.typed), query=typed_query(b=text))["b"] is False


@pytest.mark.parametrize("text", ["", "2", "y", "t", "truthy", "none"])
def test_bool_refuses(h, text):
    error = refused(plan_for(h, h.typed), query=typed_query(b=text))
    assert "query parameter 'b': expected a boolean" in str(error)


@pytest.mark.parametrize("text", [UUID, UUID.upper(), UUID.replace("-", ""), "{" + UUID + "}", "urn:uuid:" + UUID])
def test_uuid_accepts_what_uuid_does(h, text):
    assert resolve(plan_for(h, h.typed), query=typed_query(u=text))["u"] == uuid.UUID(UUID)


@pytest.mark.parametrize("text", ["", "1234", UUID + "0", UUID.replace("1", "g")])
def test_uuid_refuses(h, text):
    assert "expected a UUID" in str(refused(plan_for(h, h.typed), query=typed_query(u=text)))


def test_enum_by_value_then_by_name(h):
    plan = plan_for(h, h.typed)
    assert resolve(plan, query=typed_query(c="red"))["c"] is h.Color.RED
    assert resolve(plan, query=typed_query(c="GREEN"))["c"] is h.Color.GREEN
    assert resolve(plan, query=typed_query(lv="1"))["lv"] is h.Level.LOW
    assert resolve(plan, query=typed_query(lv="HIGH"))["lv"] is h.Level.HIGH


def test_enum_value_wins_over_name():
    class Tricky(enum.Enum):
        a = "b"
        b = "c"

    async def handler(value: Tricky):
        pass

    plan = analyze(handler, (), {})
    assert resolve(plan, query=[("value", "b")])["value"] is Tricky.a  # the value "b", not the name
    assert resolve(plan, query=[("value", "a")])["value"] is Tricky.a  # by name


def test_enum_refuses_naming_the_choices(h):
    error = refused(plan_for(h, h.typed), query=typed_query(c="blue"))
    assert str(error) == "query parameter 'c': expected one of 'red', 'green'"
    assert refused(plan_for(h, h.typed), query=typed_query(c="Red")).name == "c"  # case matters


def test_enum_with_many_members_lists_only_some():
    Big = enum.Enum("Big", {f"M{i}": f"v{i}" for i in range(50)})

    async def handler(value: Big):
        pass

    message = str(refused(analyze(handler, (), {}), query=[("value", "nope")]))
    assert "'v9', ..." in message and "v10" not in message


def test_missing_required(h):
    error = refused(plan_for(h, h.typed), query=typed_query(i=None))
    assert str(error) == "missing required query parameter 'i'"
    assert (error.name, error.location, error.status) == ("i", "query", 400)


def test_first_of_a_repeated_key(h):
    assert resolve(plan_for(h, h.typed), query=[("i", "1"), *typed_query(i=None), ("i", "2")])["i"] == 1


def test_optionals(h):
    plan = plan_for(h, h.optionals)
    assert resolve(plan) == {"a": None, "b": None, "c": 7, "d": None}
    given = [("a", "1"), ("b", "2"), ("c", "3"), ("d", "green")]
    assert resolve(plan, query=given) == {"a": 1, "b": 2, "c": 3, "d": h.Color.GREEN}
    assert str(refused(plan, query=[("a", "x")])) == "query parameter 'a': expected an integer"
    assert str(refused(plan, query=[("b", "")])) == "query parameter 'b': expected an integer"  # blank is a value


def test_defaults(h):
    plan = plan_for(h, h.defaults)
    assert resolve(plan) == {"count": 10, "name": "anon", "flag": False}
    assert resolve(plan, query=[("count", "3"), ("flag", "on")]) == {"count": 3, "name": "anon", "flag": True}


def test_lists(h):
    plan = plan_for(h, h.lists)
    assert resolve(plan) == {"tags": [], "ids": [1, 2], "maybe": None, "legacy": (), "bare": None}
    query = [("tags", "a"), ("ids", "5"), ("tags", ""), ("maybe", "1"), ("ids", "6"), ("legacy", "3"), ("bare", "x")]
    assert resolve(plan, query=query) == {
        "tags": ["a", ""],
        "ids": [5, 6],
        "maybe": [1],
        "legacy": [3],
        "bare": ["x"],
    }


def test_list_default_is_copied_per_request(h):
    plan = plan_for(h, h.lists)
    first = resolve(plan)
    first["ids"].append(99)
    first["tags"].append("x")
    assert resolve(plan)["ids"] == [1, 2]
    assert resolve(plan)["tags"] == []
    assert h.lists.__defaults__[0] == [1, 2]


def test_list_element_that_does_not_coerce(h):
    error = refused(plan_for(h, h.lists), query=[("ids", "1"), ("ids", "two")])
    assert str(error) == "query parameter 'ids': expected an integer"


def test_unannotated_and_any_are_text(h):
    plan = plan_for(h, h.untyped)
    assert resolve(plan, query=[("a", "1"), ("b", "2")]) == {"a": "1", "b": "2", "c": None}
    assert str(refused(plan, query=[("b", "2")])) == "missing required query parameter 'a'"


def test_newtype_reads_as_its_supertype(h):
    assert resolve(plan_for(h, h.newtype), query=[("user", "5")]) == {"user": 5}


def test_keyword_only_parameters(h):
    plan = plan_for(h, h.kwonly)
    assert resolve(plan, query=[("page", "3")], websocket="ws") == {"websocket": "ws", "page": 3}


def test_bad_value_is_never_repeated(h):
    # The value may be a credential (?token=...), and the message is the body of the 400.
    for text in ("x" * 10_000, "\r\n<script>", "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"):
        error = refused(plan_for(h, h.typed), query=typed_query(i=text))
        assert str(error) == "query parameter 'i': expected an integer"


def test_parameter_error_is_a_handshake_error():
    error = ParameterError("missing required query parameter 'token'", "token", "query")
    assert isinstance(error, HandshakeError) and isinstance(error, BoltError)
    assert (error.status, error.reason, error.headers) == (400, str(error), [])


# -- headers and cookies -------------------------------------------------------------------------


def test_markers(h):
    plan = plan_for(h, h.markers)
    assert plan.parameters == {
        "x_token": ("header", "x-token"),
        "agent": ("header", "User-Agent"),
        "session": ("cookie", "session"),
        "theme": ("cookie", "ui-theme"),
        "q": ("query", "filter"),
        "accept": ("header", "accept"),
        "trace": ("header", "X-Trace"),
        "opt_marker": ("header", "opt-marker"),
    }
    assert plan.needs_query and plan.needs_headers and plan.needs_cookies
    headers = [("x-TOKEN", "abc"), ("user-agent", "ua"), ("Accept", "a"), ("ACCEPT", "b"), ("x-trace", "9")]
    kwargs = resolve(plan, headers=headers, cookies={"session": "s1", "ui-theme": "green"}, query=[("filter", "4")])
    assert kwargs == {
        "x_token": "abc",
        "agent": "ua",
        "session": "s1",
        "theme": h.Color.GREEN,
        "q": 4,
        "accept": ["a", "b"],
        "trace": 9,
        "opt_marker": None,
    }
    minimal = resolve(plan, headers=[("X-Token", "t"), ("User-Agent", "u")], cookies={"session": "s"})
    assert (minimal["theme"], minimal["q"], minimal["accept"], minimal["trace"]) == (h.Color.RED, 0, None, None)
    # The query key is the alias, not the parameter's name.
    assert resolve(plan, headers=headers, cookies={"session": "s"}, query=[("q", "1")])["q"] == 0


def test_missing_header_and_cookie(h):
    plan = plan_for(h, h.markers)
    error = refused(plan, headers=[("User-Agent", "u")], cookies={"session": "s"})
    assert (str(error), error.name, error.location) == ("missing required header 'x-token'", "x-token", "header")
    error = refused(plan, headers=[("X-Token", "t"), ("User-Agent", "u")])
    assert (str(error), error.name, error.location) == ("missing required cookie 'session'", "session", "cookie")


def test_header_and_cookie_that_do_not_coerce(h):
    plan = plan_for(h, h.markers)
    base = [("X-Token", "t"), ("User-Agent", "u")]
    error = refused(plan, headers=[*base, ("X-Trace", "nine")], cookies={"session": "s"})
    assert (str(error), error.location) == ("header 'X-Trace': expected an integer", "header")
    error = refused(plan, headers=base, cookies={"session": "s", "ui-theme": "pink"})
    assert (str(error), error.location) == ("cookie 'ui-theme': expected one of 'red', 'green'", "cookie")


def test_marker_aliases_must_be_text():
    for marker in (Header, Cookie, Query):
        with pytest.raises(ValueError, match="non-empty str"):
            marker(alias="")
        with pytest.raises(ValueError, match="non-empty str"):
            marker(alias=3)
    assert repr(Header("X-A")) == "Header('X-A')" and repr(Cookie()) == "Cookie()"


# -- path parameters -----------------------------------------------------------------------------


def test_path_values_converted_by_the_router_pass(h):
    plan = plan_for(h, h.path_typed, ("item_id", "ref", "rest", "extra"))
    path = {"item_id": 5, "ref": uuid.UUID(UUID), "rest": "a/b", "extra": "not declared, still fine"}
    assert resolve(plan, path=path, websocket="ws") == {
        "websocket": "ws",
        "item_id": 5,
        "ref": uuid.UUID(UUID),
        "rest": "a/b",
    }
    assert resolve(plan, path=path, query=[("item_id", "9")], websocket="ws")["item_id"] == 5  # path wins


def test_path_values_coerced_to_the_annotation(h):
    plan = plan_for(h, h.path_coerced, ("room_id", "tone", "price", "where", "raw"))
    path = {"room_id": "12", "tone": "red", "price": 3, "where": 8, "raw": 9}
    kwargs = resolve(plan, path=path)
    # str -> int, str -> enum, int ({price:int}) -> float; Any and no annotation keep the router's value.
    assert kwargs == {"room_id": 12, "tone": h.Color.RED, "price": 3.0, "where": 8, "raw": 9}
    assert type(kwargs["price"]) is float


def test_path_value_as_text(h):
    plan = plan_for(h, h.path_as_text, ("item_id",))
    assert resolve(plan, path={"item_id": 7}) == {"item_id": "7"}
    assert resolve(plan, path={"item_id": uuid.UUID(UUID)}) == {"item_id": UUID}


def test_path_value_that_does_not_coerce(h):
    plan = plan_for(h, h.path_coerced, ("room_id", "tone", "price", "where", "raw"))
    error = refused(plan, path={"room_id": "abc", "tone": "red", "price": 3, "where": 8, "raw": 9})
    assert (str(error), error.name, error.location) == (
        "path parameter 'room_id': expected an integer",
        "room_id",
        "path",
    )


# -- injection -----------------------------------------------------------------------------------


def test_injection_by_subclass_by_name_and_optional(h):
    ws = h.TracedWebSocket()
    for handler, kwarg in ((h.injected_subclass, "ws"), (h.injected_unannotated, "websocket")):
        assert resolve(plan_for(h, handler), websocket=ws) == {kwarg: ws}
    assert resolve(plan_for(h, h.injected_optional), websocket=ws) == {"websocket": ws}


def test_resolve_without_the_injected_value(h):
    plan = plan_for(h, h.echo)
    with pytest.raises(TypeError, match=r"needs websocket=\.\.\. for parameter 'websocket'"):
        plan.resolve(path_params={}, query=[], headers=Headers(), cookies={})


def test_without_inject_an_unannotated_parameter_is_a_query_parameter(h):
    plan = analyze(h.injected_unannotated, (), {})
    assert plan.parameters == {"websocket": ("query", "websocket")}


def test_callables_that_are_not_plain_functions(h):
    class Endpoint:
        async def __call__(self, websocket: h.WebSocket, n: int):
            pass

        async def method(self, websocket: h.WebSocket, n: int):
            pass

    partial = functools.partial(h.typed, s="fixed")
    for endpoint in (Endpoint(), Endpoint().method):
        plan = plan_for(h, endpoint)
        assert resolve(plan, query=[("n", "1")], websocket="ws") == {"websocket": "ws", "n": 1}
    assert "s" in plan_for(h, partial).parameters  # partial keeps s as a keyword parameter


# -- refusals at registration --------------------------------------------------------------------

REFUSED = [
    ("star_args", r"\*args is not supported"),
    ("star_kwargs", r"\*\*kwargs is not supported"),
    ("positional_only", r"'websocket' is positional-only"),
    ("bytes_param", r"'data' is annotated bytes, which bolt cannot read from a query parameter"),
    ("dict_param", r"'data' is annotated dict\[str, int\]"),
    ("union_param", r"'value' is annotated typing.Union\[int, str\]"),
    ("list_of_optional", r"'values' is annotated list\[typing.Optional\[int\]\]"),
    ("two_markers", r"more than one of Header\(\), Cookie\(\), Query\(\)"),
    ("cookie_list", r"list\[\.\.\.\] is for query parameters and headers only"),
    ("injected_with_marker", r"'websocket' is supplied by the server; it takes no Header\(\)"),
]


@pytest.mark.parametrize(("handler", "message"), REFUSED, ids=[name for name, _ in REFUSED])
def test_refused(h, handler, message):
    with pytest.raises(TypeError, match=message) as info:
        plan_for(h, getattr(h, handler))
    assert f"handler '{handler}'" in str(info.value)


def test_refused_on_path_parameters(h):
    with pytest.raises(TypeError, match=r"list\[\.\.\.\] is for query parameters and headers only"):
        plan_for(h, h.path_list, ("item_id",))
    with pytest.raises(TypeError, match=r"'item_id' is a path parameter of the route; remove its Header\(\)"):
        plan_for(h, h.path_with_marker, ("item_id",))


def test_unsupported_annotation_names_the_supported_ones(h):
    with pytest.raises(TypeError, match="supported: str, int, float, bool, uuid.UUID, Enum"):
        plan_for(h, h.bytes_param)


def test_annotation_that_cannot_be_evaluated():
    namespace: dict = {}
    exec(
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from somewhere import WebSocket\n"
        "async def handler(websocket: WebSocket): pass\n",
        namespace,
    )
    with pytest.raises(TypeError, match=r"handler 'handler': cannot evaluate its annotations \(name 'WebSocket'"):
        analyze(namespace["handler"], (), {})


def test_not_callable():
    with pytest.raises(TypeError, match="cannot read its signature"):
        analyze(42, (), {})  # type: ignore[arg-type]


def test_annotated_without_a_marker_is_the_plain_type():
    async def handler(n: Annotated[int, "doc"] = 1):
        pass

    assert resolve(analyze(handler, (), {}), query=[("n", "2")]) == {"n": 2}


# -- parse_query and parse_cookies ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pairs"),
    [
        ("", []),
        ("a=1", [("a", "1")]),
        ("a=1&b=&a=2", [("a", "1"), ("b", ""), ("a", "2")]),
        ("flag", [("flag", "")]),
        ("q=a+b%20c", [("q", "a b c")]),
        ("name=%C3%A9t%C3%A9", [("name", "été")]),
        ("k%26=v%3D", [("k&", "v=")]),
        ("a=1;b=2", [("a", "1;b=2")]),  # ";" is no separator (Python 3.10+, WHATWG)
        ("&&a=1&", [("a", "1")]),
    ],
)
def test_parse_query(text, pairs):
    assert parse_query(text) == pairs


@pytest.mark.parametrize("text", ["a=%FF", "%C3=1", "a=%ED%A0%80"])
def test_parse_query_refuses_bad_utf8(text):
    with pytest.raises(ParameterError) as info:
        parse_query(text)
    assert (info.value.location, info.value.name, info.value.status) == ("query", None, 400)
    assert "not valid UTF-8" in str(info.value)


def test_parse_cookies():
    headers = Headers(
        [
            ("Cookie", 'session=abc; theme="dark"; empty=; =nameless; novalue; spaced = x y '),
            ("Host", "example.com"),
            ("cookie", "session=second; extra=1;;"),
        ]
    )
    assert parse_cookies(headers) == {
        "session": "abc",
        "theme": "dark",
        "empty": "",
        "spaced": "x y",
        "extra": "1",
    }
    assert parse_cookies(Headers()) == {}
    # One malformed pair does not cost the others (http.cookies would drop everything after it).
    assert parse_cookies(Headers([("Cookie", 'a=1; b="; c=3; d=%41')])) == {"a": "1", "b": '"', "c": "3", "d": "%41"}


def test_end_to_end_with_parsed_request(h):
    plan = plan_for(h, h.markers)
    headers = Headers([("X-Token", "t"), ("User-Agent", "u"), ("Cookie", "session=s; ui-theme=green")])
    kwargs = plan.resolve(
        path_params={},
        query=parse_query("filter=12&filter=13"),
        headers=headers,
        cookies=parse_cookies(headers),
    )
    assert (kwargs["q"], kwargs["session"], kwargs["theme"]) == (12, "s", h.Color.GREEN)
