"""bolt.routing: templates compiled at registration, matched against decoded request paths."""

from __future__ import annotations

import uuid

import pytest

from bolt.routing import CONVERTERS, Route, Router

UUID = "12345678-1234-5678-1234-567812345678"


async def handler(websocket):
    pass


async def other(websocket):
    pass


def matched(router: Router, path: str, kind: str = "websocket", method: str | None = None):
    """(template, params) of the match, or None."""
    found = router.match(path, kind, method)
    return None if found is None else (found[0].path, found[1])


# -- static and templated ------------------------------------------------------------------------


def test_seed_routes():
    router = Router()
    echo = router.add("/ws/echo", handler)
    room = router.add("/ws/room/{room_id}", other, auth=["jwt"], guards=[])
    assert router.match("/ws/echo", "websocket") == (echo, {})
    assert router.match("/ws/room/lobby", "websocket") == (room, {"room_id": "lobby"})
    assert room.options == {"auth": ["jwt"], "guards": []}
    assert (room.kind, room.methods, room.param_names, room.endpoint) == ("websocket", {"GET"}, ("room_id",), other)
    assert router.match("/ws/room/", "websocket") is None  # a str segment is never empty
    assert router.match("/ws/room/a/b", "websocket") is None  # nor holds a slash
    assert router.match("/ws/echo/", "websocket") is None  # paths compare exactly
    assert router.match("/ws/nothing", "websocket") is None


def test_route_has_slots():
    route = Router().add("/a", handler)
    assert not hasattr(route, "__dict__")
    assert isinstance(route, Route)
    assert repr(route) == "<Route websocket /a -> handler>"


def test_static_beats_templated_whatever_the_order():
    router = Router()
    router.add("/users/{name}", handler)
    router.add("/users/me", other)
    assert matched(router, "/users/me") == ("/users/me", {})
    assert matched(router, "/users/you") == ("/users/{name}", {"name": "you"})


def test_templated_routes_in_registration_order():
    router = Router()
    router.add("/items/{item_id:int}", handler)
    router.add("/items/{name}", other)
    router.add("/{section}/{name}", other)
    assert matched(router, "/items/5") == ("/items/{item_id:int}", {"item_id": 5})
    assert matched(router, "/items/five") == ("/items/{name}", {"name": "five"})
    assert matched(router, "/things/five") == ("/{section}/{name}", {"section": "things", "name": "five"})

    later_first = Router()
    later_first.add("/{section}/{name}", other)
    later_first.add("/items/{item_id:int}", handler)
    # The route registered first wins even though the other sits deeper in the prefix index.
    assert matched(later_first, "/items/5") == ("/{section}/{name}", {"section": "items", "name": "5"})


def test_parameters_inside_a_segment():
    router = Router()
    router.add("/files/{name}.{ext}", handler)
    router.add("/v{version:int}/status", handler)
    assert matched(router, "/files/report.final.pdf") == ("/files/{name}.{ext}", {"name": "report.final", "ext": "pdf"})
    assert matched(router, "/v2/status") == ("/v{version:int}/status", {"version": 2})
    assert matched(router, "/vx/status") is None


def test_regex_characters_in_templates_are_literal():
    router = Router()
    router.add("/a.b/(c)/{x}+", handler)
    assert matched(router, "/a.b/(c)/y+") == ("/a.b/(c)/{x}+", {"x": "y"})
    assert matched(router, "/aXb/(c)/y+") is None
    assert matched(router, "/a.b/c/y+") is None


def test_decoded_paths_match_as_they_are():
    # The HTTP parser percent-decodes: "%20" arrives as " ", "%2F" as "/".
    router = Router()
    router.add("/ws/room/{room_id}", handler)
    router.add("/caf\u00e9 menu", other)
    assert matched(router, "/ws/room/caf\u00e9 au lait") == ("/ws/room/{room_id}", {"room_id": "caf\u00e9 au lait"})
    assert matched(router, "/caf\u00e9 menu") == ("/caf\u00e9 menu", {})
    assert matched(router, "/ws/room/a/b") is None


# -- typed segments ------------------------------------------------------------------------------


@pytest.mark.parametrize(("segment", "value"), [("0", 0), ("42", 42), ("-7", -7), ("007", 7), ("9" * 40, int("9" * 40))])
def test_int_segment(segment, value):
    router = Router()
    router.add("/items/{item_id:int}", handler)
    params = router.match(f"/items/{segment}", "websocket")[1]
    assert params == {"item_id": value} and type(params["item_id"]) is int


@pytest.mark.parametrize("segment", ["abc", "1.5", "+1", "1_000", " 1", "\u0661", "", "-", "9" * 5000])
def test_int_segment_mismatch_is_no_match(segment):
    router = Router()
    router.add("/items/{item_id:int}", handler)
    assert router.match(f"/items/{segment}", "websocket") is None
    assert router.match_any(f"/items/{segment}") == []


@pytest.mark.parametrize(("segment", "value"), [("1", 1.0), ("-2.5", -2.5), ("0.125", 0.125)])
def test_float_segment(segment, value):
    router = Router()
    router.add("/price/{amount:float}", handler)
    params = router.match(f"/price/{segment}", "websocket")[1]
    assert params == {"amount": value} and type(params["amount"]) is float


@pytest.mark.parametrize("segment", ["nan", "inf", "1e5", "1.", ".5", "1,5", "9" * 400])
def test_float_segment_mismatch(segment):
    router = Router()
    router.add("/price/{amount:float}", handler)
    assert router.match(f"/price/{segment}", "websocket") is None


def test_uuid_segment():
    router = Router()
    router.add("/doc/{doc_id:uuid}", handler)
    assert router.match(f"/doc/{UUID}", "websocket")[1] == {"doc_id": uuid.UUID(UUID)}
    assert router.match(f"/doc/{UUID.upper()}", "websocket")[1] == {"doc_id": uuid.UUID(UUID)}
    for other_form in (UUID.replace("-", ""), "{" + UUID + "}", UUID[:-1], UUID + "0", UUID.replace("1", "g")):
        assert router.match(f"/doc/{other_form}", "websocket") is None, other_form


def test_str_segment_explicit_is_the_default():
    router = Router()
    router.add("/a/{name:str}", handler)
    assert matched(router, "/a/x") == ("/a/{name:str}", {"name": "x"})
    with pytest.raises(ValueError, match="already registered"):
        router.add("/a/{other}", handler)


def test_path_converter():
    router = Router()
    router.add("/static/{rest:path}", handler)
    router.add("/{everything:path}", other)
    assert matched(router, "/static/css/site.css") == ("/static/{rest:path}", {"rest": "css/site.css"})
    assert matched(router, "/static/") == ("/static/{rest:path}", {"rest": ""})
    assert matched(router, "/static/a//b/") == ("/static/{rest:path}", {"rest": "a//b/"})
    assert matched(router, "/static") == ("/{everything:path}", {"everything": "static"})
    assert matched(router, "/") == ("/{everything:path}", {"everything": ""})


def test_path_converter_after_other_parameters():
    router = Router()
    router.add("/repo/{owner}/{name}/blob/{file:path}", handler)
    assert matched(router, "/repo/me/bolt/blob/src/a.py") == (
        "/repo/{owner}/{name}/blob/{file:path}",
        {"owner": "me", "name": "bolt", "file": "src/a.py"},
    )


def test_converters_are_the_documented_ones():
    assert set(CONVERTERS) == {"str", "int", "float", "uuid", "path"}


# -- refusals at registration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("ws/echo", "must start with '/'"),
        ("", "must start with '/'"),
        ("/a?b=1", "must not contain '\\?' or '#'"),
        ("/a#b", "must not contain '\\?' or '#'"),
        ("/a/{id}/{id}", "duplicate parameter name 'id'"),
        ("/a/{id}/{id:int}", "duplicate parameter name 'id'"),
        ("/a/{id:integer}", "unknown converter 'integer'.*known: str, int, float, uuid, path"),
        ("/a/{id:}", "unknown converter ''"),
        ("/a/{id", "malformed braces"),
        ("/a/id}", "malformed braces"),
        ("/a/{{id}}", "malformed braces"),
        ("/a/{i{d}}", "malformed braces"),
        ("/a/}{", "malformed braces"),
        ("/a/{}", "parameter name '' in {} is not a Python identifier"),
        ("/a/{1st}", "parameter name '1st'"),
        ("/a/{my-id}", "parameter name 'my-id'"),
        ("/a/{rest:path}/b", r"\{rest:path\} must be the last part of the path"),
        ("/a/{rest:path}{x}", r"\{rest:path\} must be the last part of the path"),
    ],
)
def test_bad_templates(path, message):
    router = Router()
    with pytest.raises(ValueError, match=message):
        router.add(path, handler)
    assert len(router) == 0


def test_same_template_twice():
    router = Router()
    router.add("/ws/room/{room_id}", handler)
    with pytest.raises(ValueError, match="a WebSocket route with this path is already registered"):
        router.add("/ws/room/{room_id}", other)
    with pytest.raises(ValueError, match="already registered"):
        router.add("/ws/room/{name}", other)  # the same route under another name: it could never match
    router.add("/ws/room/{room_id:int}", other)  # a different shape is fine
    router.add("/ws/echo", handler)
    with pytest.raises(ValueError, match="already registered"):
        router.add("/ws/echo", other)
    assert len(router) == 3


def test_same_method_and_template_twice():
    router = Router()
    router.add("/page", handler, kind="http", methods=["POST"])
    router.add("/page", handler, kind="http")  # GET and HEAD: no overlap with POST
    router.add("/page", handler)  # a WebSocket route on the same path as http ones
    with pytest.raises(ValueError, match="an http route for HEAD with this path is already registered"):
        router.add("/page", other, kind="http", methods=["head"])
    with pytest.raises(ValueError, match="an http route for GET, HEAD"):
        router.add("/page", other, kind="http", methods=["GET", "PUT"])
    router.add("/page", other, kind="http", methods=["PUT"])  # the failed add took nothing
    assert router.allowed_methods("/page") == {"GET", "HEAD", "POST", "PUT"}


def test_bad_kind_methods_and_endpoint():
    router = Router()
    with pytest.raises(ValueError, match="kind must be 'websocket' or 'http'"):
        router.add("/a", handler, kind="sse")
    with pytest.raises(ValueError, match="methods apply to http routes only"):
        router.add("/a", handler, methods=["GET"])
    with pytest.raises(TypeError, match="not a str"):
        router.add("/a", handler, kind="http", methods="GET")
    with pytest.raises(ValueError, match="is not an HTTP method"):
        router.add("/a", handler, kind="http", methods=["GE T"])
    with pytest.raises(ValueError, match="at least one method"):
        router.add("/a", handler, kind="http", methods=[])
    with pytest.raises(TypeError, match="must be callable"):
        router.add("/a", "handler")  # type: ignore[arg-type]
    assert len(router) == 0


def test_http_methods():
    router = Router()
    page = router.add("/", handler, kind="http")
    post = router.add("/form", handler, kind="http", methods={"post"})
    get = router.add("/get", handler, kind="http", methods=("get",))
    assert page.methods == frozenset({"GET", "HEAD"}) and isinstance(page.methods, frozenset)
    assert post.methods == {"POST"}
    assert get.methods == {"GET", "HEAD"}  # HEAD comes with GET
    assert router.match("/form", "http", "POST") == (post, {})
    assert router.match("/form", "http", "GET") is None
    assert router.match("/form", "http") == (post, {})  # no method given: any
    assert router.match("/get", "http", "HEAD") == (get, {})


# -- what the server answers ---------------------------------------------------------------------


def answer(router: Router, path: str, method: str = "GET", upgrade: bool = False):
    """The decision the server makes before the upgrade, as the routing module's docstring tells."""
    if upgrade:
        found = router.match(path, "websocket")
        return ("upgrade", found[1]) if found else 404
    found = router.match(path, "http", method)
    if found:
        return ("http", found[1])
    candidates = router.match_any(path)
    if not candidates:
        return 404
    if any(route.kind == "websocket" for route, _ in candidates):
        return 426
    return 405, sorted(router.allowed_methods(path))


def test_decisions_404_405_426():
    router = Router()
    router.add("/ws/echo", handler)
    router.add("/ws/room/{room_id}", handler)
    router.add("/", handler, kind="http")
    router.add("/form/{form_id:int}", handler, kind="http", methods=["POST"])
    router.add("/both", handler)
    router.add("/both", handler, kind="http")

    assert answer(router, "/ws/echo", upgrade=True) == ("upgrade", {})
    assert answer(router, "/ws/room/7", upgrade=True) == ("upgrade", {"room_id": "7"})
    assert answer(router, "/ws/nope", upgrade=True) == 404
    assert answer(router, "/", upgrade=True) == 404  # an upgrade to an http-only path
    assert answer(router, "/both", upgrade=True) == ("upgrade", {})

    assert answer(router, "/") == ("http", {})
    assert answer(router, "/both") == ("http", {})
    assert answer(router, "/ws/echo") == 426
    assert answer(router, "/ws/room/7") == 426
    assert answer(router, "/ws/echo", method="POST") == 426
    assert answer(router, "/form/3") == (405, ["POST"])
    assert answer(router, "/form/3", method="POST") == ("http", {"form_id": 3})
    assert answer(router, "/form/x", method="POST") == 404  # a typed segment that does not fit
    assert answer(router, "/nothing") == 404
    assert answer(router, "/", method="DELETE") == (405, ["GET", "HEAD"])


def test_match_any_and_path_exists():
    router = Router()
    first = router.add("/a/{x}", handler)
    static = router.add("/a/b", handler, kind="http")
    third = router.add("/a/{y:path}", other, kind="http")
    assert router.match_any("/a/b") == [(static, {}), (first, {"x": "b"}), (third, {"y": "b"})]
    assert router.match_any("/a/b/c") == [(third, {"y": "b/c"})]
    assert router.match_any("/b") == []
    assert router.path_exists("/a/b") and router.path_exists("/a/zz") and router.path_exists("/a/b/c")
    assert not router.path_exists("/b") and not router.path_exists("/a")
    assert router.allowed_methods("/a/zz") == {"GET", "HEAD"}
    assert router.allowed_methods("/b") == frozenset()


def test_params_dict_is_fresh_each_time():
    router = Router()
    router.add("/s", handler)
    router.add("/t/{x}", handler)
    for path in ("/s", "/t/1"):
        params = router.match(path, "websocket")[1]
        params["mutated"] = True
        assert "mutated" not in router.match(path, "websocket")[1]


# -- many routes ---------------------------------------------------------------------------------


def test_ten_thousand_routes():
    router = Router()
    routes = []
    for i in range(10_000):
        routes.append(router.add(f"/api/r{i}/{{item_id:int}}", handler))
        router.add(f"/static/{i}", handler)
    router.add("/api/{anything:path}", other)
    assert len(router) == 20_001
    assert router.match("/api/r9999/5", "websocket") == (routes[9999], {"item_id": 5})
    assert router.match("/api/r0/5", "websocket") == (routes[0], {"item_id": 5})
    assert matched(router, "/static/9999") == ("/static/9999", {})
    assert matched(router, "/api/r9999/x") == ("/api/{anything:path}", {"anything": "r9999/x"})
    assert router.match("/api/r10000/5", "websocket")[0].path == "/api/{anything:path}"
    assert router.match("/nothing", "websocket") is None
    # Only the routes under the path's literal prefix are candidates, not all 10,000.
    assert len(router._candidates("/api/r5000/1")) == 2


def test_ten_thousand_routes_under_one_prefix_still_match():
    router = Router()
    for i in range(10_000):
        router.add(f"/x/{{a}}/n{i}", handler)
    assert matched(router, "/x/k/n9999") == ("/x/{a}/n9999", {"a": "k"})
    assert router.match("/x/k/n10000", "websocket") is None


def test_routes_in_registration_order():
    router = Router()
    added = [router.add("/b/{x}", handler), router.add("/a", handler), router.add("/c", handler, kind="http")]
    assert list(router) == added and router.routes == tuple(added)
