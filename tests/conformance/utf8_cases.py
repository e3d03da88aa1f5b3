"""UTF-8 test sequences in the manner of Autobahn's 6.x cases (after Markus Kuhn's "UTF-8 decoder
capability and stress test"), and an RFC 3629 oracle written from the grammar, independent of bolt.

``SEQUENCES`` maps a group name to a list of (valid, bytes).
"""

from __future__ import annotations

KOSME = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"  # "κόσμε", its ό being U+1F79


def _groups() -> dict[str, list[tuple[bool, bytes]]]:
    groups: dict[str, list[tuple[bool, bytes]]] = {}
    groups["valid text"] = [
        (True, b"hello$world"),
        (True, "hello¢world".encode()),
        (True, "hello€world".encode()),
        (True, "hello𤭢world".encode()),
        (True, KOSME),
        (True, b""),
    ]
    # Every prefix of a text with multi-byte characters: valid only where it ends on a boundary.
    boundaries = {0, 2, 5, 7, 9, 11}
    groups["prefixes of valid text"] = [(size in boundaries, KOSME[:size]) for size in range(1, len(KOSME) + 1)]
    groups["first sequence of each length"] = [
        (True, b"\x00"),
        (True, b"\xc2\x80"),
        (True, b"\xe0\xa0\x80"),
        (True, b"\xf0\x90\x80\x80"),
        (False, b"\xf8\x88\x80\x80\x80"),  # 5 and 6 bytes: past U+10FFFF, not UTF-8 (RFC 3629)
        (False, b"\xfc\x84\x80\x80\x80\x80"),
    ]
    groups["last sequence of each length"] = [
        (True, b"\x7f"),
        (True, b"\xdf\xbf"),
        (True, b"\xef\xbf\xbf"),
        (True, b"\xf4\x8f\xbf\xbf"),  # U+10FFFF
        (False, b"\xf7\xbf\xbf\xbf"),  # U+1FFFFF
        (False, b"\xfb\xbf\xbf\xbf\xbf"),
        (False, b"\xfd\xbf\xbf\xbf\xbf\xbf"),
    ]
    groups["other boundaries"] = [
        (True, b"\xed\x9f\xbf"),  # U+D7FF
        (True, b"\xee\x80\x80"),  # U+E000
        (True, b"\xef\xbf\xbd"),  # U+FFFD
        (True, b"\xf4\x8f\xbf\xbf"),  # U+10FFFF
        (False, b"\xf4\x90\x80\x80"),  # U+110000
        (False, b"\xf5\x80\x80\x80"),
        (False, b"\xff\xff\xff\xff"),
    ]
    groups["lone continuation bytes"] = [
        (False, b"\x80"),
        (False, b"\xbf"),
        (False, b"\x80\xbf"),
        (False, b"\x80\xbf\x80"),
        (False, b"\x80\xbf\x80\xbf"),
        (False, b"\x80\xbf\x80\xbf\x80"),
        (False, b"\x80\xbf\x80\xbf\x80\xbf"),
        (False, bytes(range(0x80, 0xC0))),  # all 64 of them in a row
        (False, b"abc\x80"),
    ]
    groups["lone start bytes followed by a space"] = [
        (False, b"".join(bytes([byte, 0x20]) for byte in range(low, high + 1)))
        for low, high in [(0xC0, 0xDF), (0xE0, 0xEF), (0xF0, 0xF7), (0xF8, 0xFB), (0xFC, 0xFD)]
    ]
    truncated = [
        b"\xc0",
        b"\xe0\x80",
        b"\xf0\x80\x80",
        b"\xf8\x80\x80\x80",
        b"\xfc\x80\x80\x80\x80",
        b"\xdf",
        b"\xef\xbf",
        b"\xf7\xbf\xbf",
        b"\xfb\xbf\xbf\xbf",
        b"\xfd\xbf\xbf\xbf\xbf",
    ]
    groups["last continuation byte missing"] = [(False, sequence) for sequence in truncated]
    groups["valid sequences cut short"] = [
        (False, b"\xc2"),
        (False, b"\xe0\xa0"),
        (False, b"\xe1\x80"),
        (False, b"\xf0\x90\x80"),
        (False, b"\xf4\x8f\xbf"),
        (False, b"hello\xe2\x82"),
    ]
    groups["incomplete sequences concatenated"] = [(False, b"".join(truncated))]
    groups["impossible bytes"] = [(False, b"\xfe"), (False, b"\xff"), (False, b"\xfe\xfe\xff\xff")]
    groups["overlong slash"] = [
        (False, b"\xc0\xaf"),
        (False, b"\xe0\x80\xaf"),
        (False, b"\xf0\x80\x80\xaf"),
        (False, b"\xf8\x80\x80\x80\xaf"),
        (False, b"\xfc\x80\x80\x80\x80\xaf"),
    ]
    groups["maximum overlongs"] = [
        (False, b"\xc1\xbf"),
        (False, b"\xe0\x9f\xbf"),
        (False, b"\xf0\x8f\xbf\xbf"),
        (False, b"\xf8\x87\xbf\xbf\xbf"),
        (False, b"\xfc\x83\xbf\xbf\xbf\xbf"),
    ]
    groups["overlong NUL"] = [
        (False, b"\xc0\x80"),
        (False, b"\xe0\x80\x80"),
        (False, b"\xf0\x80\x80\x80"),
        (False, b"\xf8\x80\x80\x80\x80"),
        (False, b"\xfc\x80\x80\x80\x80\x80"),
    ]
    groups["single surrogates"] = [
        (False, b"\xed\xa0\x80"),  # U+D800
        (False, b"\xed\xad\xbf"),  # U+DB7F
        (False, b"\xed\xae\x80"),  # U+DB80
        (False, b"\xed\xaf\xbf"),  # U+DBFF
        (False, b"\xed\xb0\x80"),  # U+DC00
        (False, b"\xed\xbe\x80"),  # U+DF80
        (False, b"\xed\xbf\xbf"),  # U+DFFF
    ]
    groups["paired surrogates"] = [
        (False, high + low)
        for high in (b"\xed\xa0\x80", b"\xed\xad\xbf", b"\xed\xae\x80", b"\xed\xaf\xbf")
        for low in (b"\xed\xb0\x80", b"\xed\xbf\xbf")
    ]
    # Noncharacters are valid UTF-8 (RFC 3629; Unicode Corrigendum #9).
    nonchars = [b"\xef\xbf\xbe", b"\xef\xbf\xbf"]
    for lead in (0xF0, 0xF1, 0xF2, 0xF3, 0xF4):
        for second in (0x8F, 0x9F, 0xAF, 0xBF):
            if lead == 0xF4 and second != 0x8F:
                continue  # past U+10FFFF
            if lead == 0xF0 and second == 0x8F:
                continue  # overlong
            nonchars += [bytes([lead, second, 0xBF, last]) for last in (0xBE, 0xBF)]
    groups["noncharacters"] = [(True, sequence) for sequence in nonchars]
    groups["specials"] = [(True, bytes([0xEF, 0xBF, last])) for last in range(0xB9, 0xC0)]
    # Invalid bytes behind valid text, where a validator must carry state across a character.
    groups["invalid after valid text"] = [
        (False, KOSME + b"\xed\xa0\x80edited"),
        (False, KOSME + b"\xf4\x90\x80\x80edited"),
        (False, KOSME + b"\xc0\xafedited"),
        (False, b"x" * 40 + b"\xff" + b"y" * 40),
    ]
    return groups


SEQUENCES = _groups()
ALL = [(group, index, valid, data) for group, cases in SEQUENCES.items() for index, (valid, data) in enumerate(cases)]
VALID = [data for _, _, valid, data in ALL if valid]
INVALID = [data for _, _, valid, data in ALL if not valid]


# The RFC 3629 §4 grammar: the byte ranges allowed after each lead byte.
def _second_byte_range(lead: int) -> tuple[int, int] | None:
    if 0xC2 <= lead <= 0xDF or 0xE1 <= lead <= 0xEC or 0xEE <= lead <= 0xEF or 0xF1 <= lead <= 0xF3:
        return 0x80, 0xBF
    return {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F), 0xF0: (0x90, 0xBF), 0xF4: (0x80, 0x8F)}.get(lead)


def _sequence_length(lead: int) -> int:
    return 1 if lead < 0x80 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4


def first_invalid(data: bytes) -> int | None:
    """The index of the first byte after which ``data`` can no longer begin valid UTF-8, or None
    if every prefix could still be continued into valid UTF-8 (it is valid, or merely cut short)."""
    index = 0
    while index < len(data):
        lead = data[index]
        if lead < 0x80:
            index += 1
            continue
        allowed = _second_byte_range(lead)
        if allowed is None:
            return index
        for offset in range(1, _sequence_length(lead)):
            if index + offset >= len(data):
                return None
            low, high = allowed if offset == 1 else (0x80, 0xBF)
            if not low <= data[index + offset] <= high:
                return index + offset
        index += _sequence_length(lead)
    return None


def is_valid(data: bytes) -> bool:
    """Valid and complete, by the grammar (not by a decoder)."""
    if first_invalid(data) is not None:
        return False
    index = 0
    while index < len(data):
        index += _sequence_length(data[index])
    return index == len(data)
