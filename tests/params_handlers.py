"""Handlers for tests/test_params.py, written as users write them.

test_params loads this source twice: as written (annotations evaluated when each ``def`` runs) and
compiled with ``from __future__ import annotations`` (annotations kept as strings, resolved by
``typing.get_type_hints``), so every case runs both ways from one source. Hence no future import here.
"""

import enum
import uuid
from typing import Annotated, Any, List, NewType, Optional, Union

from bolt.params import Cookie, Header, Query


class WebSocket:
    """Stands in for bolt.WebSocket: the type the server injects."""


class TracedWebSocket(WebSocket):
    """A subclass: still injected."""


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


UserId = NewType("UserId", int)


# -- the seed's handlers -------------------------------------------------------------------------


async def room(websocket: WebSocket, room_id: str):
    pass


async def connect(websocket: WebSocket, token: str | None = None):
    pass


async def echo(websocket: WebSocket):
    pass


# -- one parameter of each type, read from the query ---------------------------------------------


async def typed(
    websocket: WebSocket,
    s: str,
    i: int,
    f: float,
    b: bool,
    u: uuid.UUID,
    c: Color,
    lv: Level,
):
    pass


async def optionals(
    a: int | None,
    b: Optional[int],
    c: Union[int, None] = 7,
    d: "Optional[Color]" = None,
):
    pass


async def defaults(count: int = 10, name: str = "anon", flag: bool = False):
    pass


async def lists(
    tags: list[str],
    ids: list[int] = [1, 2],  # noqa: B006 - copied per resolve; test_params checks that
    maybe: Optional[list[int]] = None,
    legacy: List[int] = (),  # a non-list default is returned as it is
    bare: list = None,
):
    pass


async def untyped(a, b: Any, c=None):
    pass


async def newtype(user: UserId):
    pass


async def kwonly(websocket: WebSocket, *, page: int = 1):
    pass


# -- markers -------------------------------------------------------------------------------------


async def markers(
    x_token: Annotated[str, Header()],
    agent: Annotated[str, Header(alias="User-Agent")],
    session: Annotated[str, Cookie()],
    theme: Annotated[Color, Cookie(alias="ui-theme")] = Color.RED,
    q: Annotated[int, Query(alias="filter")] = 0,
    accept: Annotated[list[str], Header()] = None,
    trace: Annotated[Optional[int], Header(alias="X-Trace")] = None,
    opt_marker: Optional[Annotated[int, Header()]] = None,
):
    pass


# -- path parameters -----------------------------------------------------------------------------


async def path_typed(websocket: WebSocket, item_id: int, ref: uuid.UUID, rest: str):
    pass


async def path_coerced(room_id: int, tone: Color, price: float, where: Any, raw):
    pass


async def path_as_text(item_id: str):
    pass


# -- injection -----------------------------------------------------------------------------------


async def injected_subclass(ws: TracedWebSocket):
    pass


async def injected_unannotated(websocket):
    pass


async def injected_optional(websocket: Optional[WebSocket] = None):
    pass


# -- refused at registration ---------------------------------------------------------------------


async def star_args(websocket: WebSocket, *args):
    pass


async def star_kwargs(websocket: WebSocket, **kwargs):
    pass


async def positional_only(websocket: WebSocket, /, token: str):
    pass


async def bytes_param(data: bytes):
    pass


async def dict_param(data: dict[str, int]):
    pass


async def union_param(value: Union[int, str]):
    pass


async def list_of_optional(values: list[Optional[int]]):
    pass


async def two_markers(value: Annotated[str, Header(), Cookie()]):
    pass


async def cookie_list(values: Annotated[list[str], Cookie()]):
    pass


async def path_list(item_id: list[int]):
    pass


async def path_with_marker(item_id: Annotated[int, Header()]):
    pass


async def injected_with_marker(websocket: Annotated[WebSocket, Header()]):
    pass
