"""Close codes: the IANA registry as an enum, and the rules for which codes may cross the wire.

RFC 6455 §7.4.1 defines 1000-1011; IANA's "WebSocket Close Code Number Registry" adds 1012-1015.
§7.4.2: 0-999 are never used, 1000-2999 belong to the protocol and its extensions, 3000-3999 are
registered by libraries and frameworks, 4000-4999 are private to applications.
"""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS_RCVD = 1005
    ABNORMAL_CLOSURE = 1006
    INVALID_FRAME_PAYLOAD_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015

    # The names the seed page and other libraries use for the same codes.
    NORMAL = 1000
    INVALID_PAYLOAD = 1007
    INVALID_DATA = 1007
    INVALID_TEXT = 1007
    TOO_BIG = 1009
    SERVER_ERROR = 1011
    INTERNAL_SERVER_ERROR = 1011


# §7.4.1: 1005, 1006 and 1015 "MUST NOT be set as a status code in a Close control frame by an
# endpoint"; 1004 is reserved. They are the codes a library reports, never sends.
_NEVER_ON_THE_WIRE = frozenset({1004, 1005, 1006, 1015})


def is_valid_close_code(code: int) -> bool:
    """May ``code`` appear in a close frame? A received frame with any other code is a 1002 (§7.4)."""
    if 1000 <= code <= 1014:
        return code not in _NEVER_ON_THE_WIRE
    return 3000 <= code <= 4999
