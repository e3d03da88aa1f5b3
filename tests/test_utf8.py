"""UTF-8 validation of text messages (RFC 6455 §8.1, RFC 3629 §4): both implementations against
a reference built on ``bytes.decode``.

The validator must fail fast: after every byte, "valid so far" must equal "some continuation makes
this valid UTF-8", which the reference answers by trying to complete the bytes. The compiled kernel
runs its DFA in blocks of 16 bytes and skips ASCII 32 and 16 bytes at a time, so the ASCII tests put
a bad or multi-byte character at every position of runs up to 70 bytes, at every alignment.
"""

from __future__ import annotations

import array
import functools
import itertools
import random
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import load_module


@pytest.fixture(scope="module", params=["compiled", "pure"])
def utf8(request):
    # Module scope: hypothesis refuses function-scoped fixtures, and each test makes its own validators.
    return load_module(request.param, "utf8")


def decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# The bytes still missing finish one character, so they are continuation bytes, and each of them but
# the first accepts 0x80. RFC 3629 §4 narrows only a character's second byte to a range (E0: A0..BF,
# ED: 80..9F, F0: 90..BF, F4: 80..8F), and each range holds 0x80, 0x90 or 0xA0.
COMPLETIONS = [b""] + [bytes([first]) + b"\x80" * more for first in (0x80, 0x90, 0xA0) for more in range(3)]


def can_be_completed(data: bytes, completions: Sequence[bytes] = COMPLETIONS) -> bool:
    """The reference for failing fast: some continuation makes ``data`` valid UTF-8."""
    return any(decodes(data + completion) for completion in completions)


@functools.cache
def short_sequences() -> dict[bytes, bool]:
    """Every sequence of 1 and 2 bytes, mapped to whether it can be completed."""
    table = {bytes([first]): can_be_completed(bytes([first])) for first in range(256)}
    for first, second in itertools.product(range(256), repeat=2):
        data = bytes([first, second])
        # A sequence whose first byte is already hopeless stays hopeless, whatever follows.
        table[data] = table[data[:1]] and can_be_completed(data)
    return table


@functools.cache
def three_byte_sequences() -> tuple[list[bytes], list[bool], list[bool]]:
    """Every 3-byte sequence starting with a lead byte of a 3- or 4-byte character (E0..F4), whether
    it can be completed, and whether it is valid and complete."""
    short = short_sequences()
    sequences = [bytes([a, b, c]) for a in range(0xE0, 0xF5) for b in range(256) for c in range(256)]
    # The first character takes 3 or 4 bytes, so at most one continuation byte is missing.
    completable = [short[data[:2]] and can_be_completed(data, (b"", b"\x80")) for data in sequences]
    valid = [ok and decodes(data) for data, ok in zip(sequences, completable)]
    return sequences, completable, valid


def feed_each(utf8, pieces) -> list[bool]:
    """Feed one validator ``pieces`` in turn; what each feed returned."""
    validator = utf8.Utf8Validator()
    return [validator.feed(piece) for piece in pieces]


def first_failure(utf8, data: bytes) -> int | None:
    """Fed byte by byte, the 1-based position of the byte at which feed first returned False."""
    answers = feed_each(utf8, [data[i : i + 1] for i in range(len(data))])
    return answers.index(False) + 1 if False in answers else None


def assert_matches_reference(utf8, data: bytes, cuts: list[int]) -> None:
    """Fed cut at ``cuts``: after each piece feed answers as the reference, and complete at the end."""
    bounds = [0, *sorted(cuts), len(data)]
    validator = utf8.Utf8Validator()
    for start, stop in itertools.pairwise(bounds):
        assert validator.feed(data[start:stop]) == can_be_completed(data[:stop]), (data, stop)
    assert validator.complete == decodes(data), data
    assert utf8.is_valid_utf8(data) == decodes(data), data


def test_every_one_and_two_byte_sequence_fails_exactly_when_it_cannot_be_completed(utf8):
    for data, completable in short_sequences().items():
        validator = utf8.Utf8Validator()
        answers = [validator.feed(data[i : i + 1]) for i in range(len(data))]
        assert answers[-1] == completable, data.hex()
        assert validator.complete == decodes(data), data.hex()
        assert feed_each(utf8, [data]) == [completable], data.hex()
        assert utf8.is_valid_utf8(data) == decodes(data), data.hex()


def test_every_three_byte_sequence_from_e0_to_f4_fails_exactly_when_it_cannot_be_completed(utf8):
    sequences, completable, valid = three_byte_sequences()
    validator = utf8.Utf8Validator()
    answers = []
    for data in sequences:
        validator.reset()
        answers.append((validator.feed(data), validator.complete))
    expected = zip(completable, valid)
    mismatches = [data.hex() for data, got, want in zip(sequences, answers, expected) if got != want]
    assert not mismatches, mismatches[:20]


@pytest.mark.parametrize(
    ("case", "data", "fails_at", "complete"),
    [
        ("greek kosme", "κόσμε".encode(), None, True),
        ("U+10FFFF, the last code point", b"\xf4\x8f\xbf\xbf", None, True),
        ("U+110000 is past the last code point", b"\xf4\x90\x80\x80", 2, False),
        ("F5 can only start past U+10FFFF", b"\xf5\x80\x80\x80", 1, False),
        ("overlong '/' in 2 bytes", b"\xc0\xaf", 1, False),
        ("overlong '/' in 3 bytes", b"\xe0\x80\xaf", 2, False),
        ("overlong '/' in 4 bytes", b"\xf0\x80\x80\xaf", 2, False),
        ("largest overlong 2-byte", b"\xc1\xbf", 1, False),
        ("lone continuation 80", b"\x80", 1, False),
        ("lone continuation BF", b"\xbf", 1, False),
        ("continuation after a complete character", "é".encode() + b"\x80", 3, False),
        ("high surrogate U+D800", b"\xed\xa0\x80", 2, False),
        ("low surrogate U+DFFF", b"\xed\xbf\xbf", 2, False),
        ("U+D7FF, just below the surrogates", b"\xed\x9f\xbf", None, True),
        ("U+E000, just above the surrogates", b"\xee\x80\x80", None, True),
        ("FE and FF never appear", b"a\xfe\xff", 2, False),
        ("ASCII cutting a 3-byte sequence", b"\xe2\x82a", 3, False),
        ("truncated 2-byte", b"\xc3", None, False),
        ("truncated 3-byte", b"\xe2\x82", None, False),
        ("truncated 4-byte", b"\xf0\x9f\x98", None, False),
        ("text then truncated", "κόσμε".encode() + b"\xce", None, False),
    ],
)
def test_autobahn_style_cases(utf8, case, data, fails_at, complete):
    assert first_failure(utf8, data) == fails_at, case
    validator = utf8.Utf8Validator()
    assert validator.feed(data) == (fails_at is None), case
    assert validator.complete == complete, case
    assert utf8.is_valid_utf8(data) == complete, case


@given(data=st.binary(max_size=64), seed=st.integers(0, 2**32))
def test_random_bytes_match_the_reference_whole_byte_by_byte_and_cut(utf8, data, seed):
    assert_matches_reference(utf8, data, [])
    assert_matches_reference(utf8, data, list(range(1, len(data))))
    cuts = random.Random(seed).sample(range(len(data) + 1), k=min(3, len(data) + 1))
    assert_matches_reference(utf8, data, cuts)


# Bytes that break otherwise valid text: lone continuations, impossible bytes, overlong leads,
# a surrogate, a code point past U+10FFFF, and the lead of a sequence cut short by what follows.
BAD_BYTES = [
    b"\x80", b"\xbf", b"\xff", b"\xf5", b"\xc0", b"\xc1", b"\xe0\x80", b"\xed\xa0", b"\xf4\x90", b"\xe2",
]


@given(
    text=st.text(max_size=80).map(str.encode),
    bad=st.sampled_from(BAD_BYTES),
    where=st.integers(0, 2**16),
    seed=st.integers(0, 2**32),
)
def test_valid_text_passes_and_bad_bytes_in_it_fail_as_early_as_the_reference(utf8, text, bad, where, seed):
    cuts = random.Random(seed).sample(range(len(text) + 1), k=min(4, len(text) + 1))
    assert_matches_reference(utf8, text, cuts)
    assert utf8.is_valid_utf8(text)
    spoiled = text[: where % (len(text) + 1)] + bad + text[where % (len(text) + 1) :]
    assert_matches_reference(utf8, spoiled, cuts)
    assert_matches_reference(utf8, spoiled, list(range(1, len(spoiled))))


def test_an_error_is_sticky_until_reset(utf8):
    validator = utf8.Utf8Validator()
    assert validator.feed(b"ok \xff") is False
    assert validator.feed(b"valid ascii") is False
    assert validator.feed(b"") is False
    assert validator.complete is False
    validator.reset()
    assert validator.feed(b"valid ascii") is True
    assert validator.complete is True


def test_reset_drops_a_half_finished_character(utf8):
    validator = utf8.Utf8Validator()
    assert validator.feed(b"\xe2\x82") is True
    assert validator.complete is False
    validator.reset()
    assert validator.complete is True
    # Without the reset, "a" would cut the sequence short and fail.
    assert validator.feed(b"a") is True
    assert validator.complete is True


def test_a_character_split_across_fragments_is_valid(utf8):
    for character in ("é", "€", "😀", "\U0010ffff"):
        encoded = character.encode()
        for cut in range(1, len(encoded)):
            validator = utf8.Utf8Validator()
            assert validator.feed(b"x" * 20 + encoded[:cut]) is True
            assert validator.complete is False
            assert validator.feed(encoded[cut:] + b"y" * 20) is True
            assert validator.complete is True


def test_empty_input_is_valid_and_complete(utf8):
    validator = utf8.Utf8Validator()
    assert validator.feed(b"") is True
    assert validator.complete is True
    assert utf8.is_valid_utf8(b"") is True


def ascii_run_cases():
    """A bad byte, a truncated lead, or a valid character at every position 0..70 of an ASCII run."""
    for position in range(71):
        for tail in (0, 1, 17, 40):
            before, after = b"a" * position, b"b" * tail
            yield before + b"\xff" + after, position + 1, False
            yield before + b"\x80" + after, position + 1, False
            yield before + b"\xc3" + after, (position + 2 if tail else None), False
            yield before + "é€😀".encode() + after, None, True


def test_ascii_runs_with_a_bad_byte_or_a_character_at_every_position(utf8):
    for data, fails_at, valid in ascii_run_cases():
        validator = utf8.Utf8Validator()
        assert validator.feed(data) == (fails_at is None), data
        assert validator.complete == valid, data
        assert utf8.is_valid_utf8(data) == valid, data
        if fails_at is not None:
            assert feed_each(utf8, [data[: fails_at - 1], data[fails_at - 1 :]]) == [True, False], data


def test_ascii_runs_at_every_alignment(utf8):
    for offset in range(16):
        for position in range(0, 71, 7):
            backing = bytearray(b"#" * offset + b"a" * 90)
            backing[offset + position] = 0xFF
            view = memoryview(backing)[offset:]
            assert utf8.is_valid_utf8(view) is False, (offset, position)
            backing[offset + position] = ord("z")
            assert utf8.is_valid_utf8(view) is True, (offset, position)


def test_long_text_in_every_script_is_valid(utf8):
    text = ("The quick brown fox. Καλημέρα κόσμε. Grüße. 你好，世界。🙂🚀 " * 2000).encode()
    assert utf8.is_valid_utf8(text) is True
    validator = utf8.Utf8Validator()
    assert all(validator.feed(text[start : start + 4093]) for start in range(0, len(text), 4093))
    assert validator.complete is True
    assert utf8.is_valid_utf8(text + b"\xed\xa0\x80") is False
    assert utf8.is_valid_utf8(text + "é".encode()[:1]) is False


def test_any_contiguous_buffer_is_accepted(utf8):
    data = "κόσμε".encode()
    for buffer in (data, bytearray(data), memoryview(data), array.array("B", data)):
        assert utf8.is_valid_utf8(buffer) is True
        assert utf8.Utf8Validator().feed(buffer) is True


@pytest.mark.parametrize("not_a_buffer", ["text", 42, None, memoryview(b"abcdef")[::2]], ids=repr)
def test_what_is_not_a_contiguous_buffer_is_refused_with_type_error(utf8, not_a_buffer):
    with pytest.raises(TypeError):
        utf8.Utf8Validator().feed(not_a_buffer)
    with pytest.raises(TypeError):
        utf8.is_valid_utf8(not_a_buffer)
