"""UTF-8 in text messages (RFC 6455 §8.1, RFC 3629): valid text is echoed, invalid text fails the
connection with 1007, in one frame, split across fragments at every byte, and one byte per
fragment. Invalid text is refused as soon as it is invalid: a frame or message still arriving is
failed before the rest of it is sent."""

from __future__ import annotations

import pytest

from tests.conformance.client import (
    BINARY,
    CONT,
    TEXT,
    Until,
    binary,
    bounded_gather,
    close_frame,
    exchange,
    expect_closed,
    fragments,
    frame,
    pieces,
    text,
)
from tests.conformance.utf8_cases import ALL, INVALID, KOSME, SEQUENCES, VALID, first_invalid, is_valid

# The cases detectable before the message ends: all but the merely truncated ones.
EARLY = [(data, first_invalid(data)) for data in INVALID if first_invalid(data) is not None]


def test_the_cases_and_the_oracle_agree_with_each_other_and_with_python():
    for group, index, valid, data in ALL:
        try:
            data.decode("utf-8")
            decodes = True
        except UnicodeDecodeError:
            decodes = False
        assert valid == is_valid(data) == decodes, (group, index, data)
    assert len(VALID) > 50 and len(INVALID) > 70 and len(EARLY) > 60


@pytest.mark.parametrize("group", list(SEQUENCES))
def test_each_sequence_in_one_frame(serve, group):
    """Valid ones are echoed (all on one connection), invalid ones each fail a connection with
    1007; the same bytes as a binary message are echoed, never judged."""
    cases = SEQUENCES[group]
    valid = [data for ok, data in cases if ok]
    invalid = [data for ok, data in cases if not ok]

    async def scenario(port):
        if valid:
            answer = await exchange(port, *(frame(TEXT, data) for data in valid), Until(messages=len(valid)), close_frame(1000))
            expect_closed(answer, 1000, messages=[text(data) for data in valid])
        answers = await bounded_gather([exchange(port, frame(TEXT, data)) for data in invalid])
        for answer in answers:
            expect_closed(answer, 1007)
        if invalid:
            answer = await exchange(port, *(frame(BINARY, data) for data in invalid), Until(messages=len(invalid)), close_frame(1000))
            expect_closed(answer, 1000, messages=[binary(data) for data in invalid])

    serve(scenario)


def test_valid_text_split_across_two_fragments_at_every_byte(serve):
    """Each valid sequence (prefixed with text, so the cut falls inside characters of every length)
    cut into two fragments at every offset, the empty first and last fragments included."""

    async def scenario(port):
        messages = [b"\xc3\xa9" + data + KOSME for data in VALID]
        connections = []
        for data in messages:
            sent = [fragments(TEXT, data, [cut]) for cut in range(len(data) + 1)]
            connections.append(exchange(port, *sent, Until(messages=len(sent)), close_frame(1000)))
        for data, answer in zip(messages, await bounded_gather(connections)):
            expect_closed(answer, 1000, messages=[text(data)] * (len(data) + 1))

    serve(scenario)


def test_invalid_text_split_across_two_fragments_at_every_byte(serve):
    """Every invalid sequence cut in two at every offset: 1007 each time, whichever fragment holds
    the invalid byte and whether the sequence is broken or merely cut short at the end."""

    async def scenario(port):
        cases = [(data, cut) for data in INVALID for cut in range(len(data) + 1)]
        answers = await bounded_gather([exchange(port, fragments(TEXT, data, [cut])) for data, cut in cases])
        for (data, cut), answer in zip(cases, answers):
            assert answer.close_code == 1007, (data, cut, answer.describe())
            expect_closed(answer, 1007)

    serve(scenario)


def test_one_byte_per_fragment(serve):
    async def scenario(port):
        valid = [data for data in VALID if data]
        sent = [fragments(TEXT, data, list(range(1, len(data)))) for data in valid]
        answer = await exchange(port, *sent, Until(messages=len(sent)), close_frame(1000))
        expect_closed(answer, 1000, messages=[text(data) for data in valid])
        answers = await bounded_gather([exchange(port, fragments(TEXT, data, list(range(1, len(data))))) for data in INVALID])
        for data, answer in zip(INVALID, answers):
            assert answer.close_code == 1007, (data, answer.describe())
            expect_closed(answer, 1007)

    serve(scenario)


def test_invalid_text_is_refused_before_the_frame_ends(serve):
    """A text frame's header announcing 1000 bytes more than are ever sent, then the sequence up to
    and including its first invalid byte, and nothing else: the close 1007 arrives anyway, well
    within the bound, though the frame never completes."""

    async def scenario(port):
        cases = [(prefix + data[: index + 1], prefix) for data, index in EARLY for prefix in (b"", KOSME)]
        connections = []
        for sent, _ in cases:
            header = frame(TEXT, sent, length=len(sent) + 1000)
            connections.append(exchange(port, header[: len(header) - len(sent)], header[len(header) - len(sent) :]))
        for (sent, _), answer in zip(cases, await bounded_gather(connections)):
            assert answer.close_code == 1007, (sent, answer.describe())
            expect_closed(answer, 1007)
            assert answer.close_after is not None and answer.close_after < 0.5, answer.describe()

    serve(scenario)


def test_invalid_text_is_refused_before_the_message_ends(serve):
    """The same across fragments: a complete valid first fragment, then a continuation whose header
    announces more than is sent and whose bytes so far are invalid. No FIN ever arrives."""

    async def scenario(port):
        connections = []
        for data, index in EARLY:
            sent = data[: index + 1]
            continuation = frame(CONT, sent, length=len(sent) + 1000)
            connections.append(exchange(port, frame(TEXT, KOSME, fin=False), continuation))
        for (data, _), answer in zip(EARLY, await bounded_gather(connections)):
            assert answer.close_code == 1007, (data, answer.describe())
            expect_closed(answer, 1007)
        # Invalid already in a first fragment that announces FIN=0: refused without a continuation.
        answers = await bounded_gather([exchange(port, frame(TEXT, data[: index + 1], fin=False)) for data, index in EARLY])
        for answer in answers:
            expect_closed(answer, 1007)

    serve(scenario)


@pytest.mark.parametrize(
    "valid_part, invalid_part",
    [
        (KOSME, b"\xf4\x90\x80\x80"),  # Autobahn 6.4.1 and 6.4.3: a code point past U+10FFFF
        (KOSME, b"\xed\xa0\x80"),  # a surrogate
        (KOSME, b"\xc0\xaf"),  # an overlong
        (b"", b"\x80"),  # a lone continuation byte
    ],
    ids=["past-U+10FFFF", "surrogate", "overlong", "lone-continuation"],
)
def test_a_frame_sent_in_slow_pieces_is_refused_before_its_end(serve, valid_part, invalid_part):
    """Autobahn 6.4.x: one text frame written byte by byte, 10 ms apart. The close 1007 arrives
    after the first invalid byte and long before the frame's last byte would have been sent (the
    client stops writing once the close frame is in)."""
    rest = b"edited" * 10

    async def scenario(port):
        payload = valid_part + invalid_part + rest
        whole = frame(TEXT, payload)
        header_size = len(whole) - len(payload)
        invalid_at = header_size + len(valid_part) + first_invalid(invalid_part) + 1  # bytes up to it
        answer = await exchange(port, whole[:header_size], *pieces(whole[header_size:], 1), delay=0.01)
        expect_closed(answer, 1007)
        # Written when the close arrived: at least the invalid byte, and nowhere near the end.
        assert invalid_at <= answer.sent_at_close < len(whole) - len(rest) // 2, (invalid_at, answer.sent_at_close, len(whole))
        assert answer.sent < len(whole)

    serve(scenario)
