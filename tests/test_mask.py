"""Masking (RFC 6455 §5.3): both implementations against a byte-by-byte reference.

The compiled kernel switches paths at 128 bytes (AVX2, after a head that aligns the pointer) and at
32, 16, 8 and 4 bytes, so the exhaustive cases cover every length up to 300 at every key phase, and
every pointer alignment through memoryview slices.
"""

from __future__ import annotations

import array
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import load_module

KEY = bytes([0x37, 0xFA, 0x21, 0x3D])


@pytest.fixture(scope="module", params=["compiled", "pure"])
def masking(request):
    # Module scope: a module is stateless, and hypothesis refuses function-scoped fixtures.
    return load_module(request.param, "mask")


def reference(data: bytes, key: bytes, phase: int = 0) -> bytes:
    return bytes(byte ^ key[(phase + i) % 4] for i, byte in enumerate(data))


def payload(length: int, seed: int = 0) -> bytes:
    return random.Random(seed * 100_003 + length).randbytes(length)


def test_mask_matches_reference_for_every_length_and_phase(masking):
    for length in range(301):
        data = payload(length)
        for phase in range(8):
            assert masking.mask(data, KEY, phase) == reference(data, KEY, phase), (length, phase)


def test_mask_inplace_matches_reference_for_every_length_and_phase(masking):
    for length in range(301):
        data = payload(length)
        for phase in range(8):
            buffer = bytearray(data)
            assert masking.mask_inplace(buffer, KEY, phase) is None
            assert buffer == reference(data, KEY, phase), (length, phase)


def test_unaligned_slices_are_masked_and_nothing_around_them(masking):
    for offset in range(1, 16):
        for length in [*range(70), 127, 128, 129, 255, 300]:
            data = payload(length, seed=offset)
            phase = length % 4
            backing = bytearray(payload(offset + length + 16, seed=99))
            backing[offset : offset + length] = data
            before = bytes(backing)

            assert masking.mask(memoryview(before)[offset : offset + length], KEY, phase) == reference(
                data, KEY, phase
            )
            masking.mask_inplace(memoryview(backing)[offset : offset + length], KEY, phase)

            assert backing[offset : offset + length] == reference(data, KEY, phase), (offset, length)
            assert backing[:offset] == before[:offset]
            assert backing[offset + length :] == before[offset + length :]


def test_large_payload(masking):
    data = payload(1024 * 1024 + 3)
    expected = reference(data, KEY, 3)
    assert masking.mask(data, KEY, 3) == expected
    buffer = bytearray(data)
    masking.mask_inplace(buffer, KEY, 3)
    assert buffer == expected


def test_rfc6455_masked_hello(masking):
    # RFC 6455 §5.7: a single-frame masked text message containing "Hello".
    frame = bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58")
    key, masked_payload = frame[2:6], frame[6:]
    assert masking.mask(masked_payload, key) == b"Hello"
    buffer = bytearray(masked_payload)
    masking.mask_inplace(buffer, key)
    assert buffer == b"Hello"


@given(data=st.binary(max_size=2000), key=st.binary(min_size=4, max_size=4), phase=st.integers(0, 2**70))
def test_masking_twice_restores_the_data(masking, data, key, phase):
    assert masking.mask(masking.mask(data, key, phase), key, phase) == data
    buffer = bytearray(data)
    masking.mask_inplace(buffer, key, phase)
    masking.mask_inplace(buffer, key, phase)
    assert buffer == data


@given(
    data=st.binary(max_size=1000),
    key=st.binary(min_size=4, max_size=4),
    cuts=st.lists(st.integers(0, 1000), max_size=8),
)
def test_unmasking_in_pieces_with_the_running_phase_equals_unmasking_whole(masking, data, key, cuts):
    bounds = [0, *sorted(cut for cut in cuts if cut <= len(data)), len(data)]
    whole = masking.mask(data, key)

    pieces = [masking.mask(data[start:end], key, start) for start, end in zip(bounds, bounds[1:])]
    assert b"".join(pieces) == whole

    buffer = bytearray(data)
    view = memoryview(buffer)
    for start, end in zip(bounds, bounds[1:]):
        masking.mask_inplace(view[start:end], key, start)
    assert buffer == whole


def test_phase_is_taken_modulo_4(masking):
    data = payload(37)
    for phase in (4, 5, 2**31 + 2, 2**63 - 1, 2**64 + 1, 2**100 + 3):
        assert masking.mask(data, KEY, phase) == masking.mask(data, KEY, phase % 4), phase


def test_phase_may_be_any_integer_like(masking):
    class Offset:
        def __index__(self) -> int:
            return 6

    data = payload(21)
    assert masking.mask(data, KEY, Offset()) == reference(data, KEY, 2)
    assert masking.mask(data, KEY, True) == reference(data, KEY, 1)


def test_any_contiguous_buffer_is_accepted(masking):
    data = payload(40)
    expected = reference(data, KEY, 1)
    key_forms = (KEY, bytearray(KEY), memoryview(KEY), memoryview(b"xx" + KEY)[2:])
    for key in key_forms:
        assert masking.mask(data, key, 1) == expected
    for form in (bytearray(data), memoryview(data), array.array("I", data)):
        result = masking.mask(form, KEY, 1)
        assert type(result) is bytes and result == expected

    words = array.array("I", data)
    masking.mask_inplace(words, KEY, 1)
    assert words.tobytes() == expected


def test_mask_leaves_its_input_alone(masking):
    data = bytearray(payload(100))
    masking.mask(data, KEY)
    assert data == payload(100)


@pytest.mark.parametrize("key", [b"", b"abc", b"abcde", bytearray(8)])
def test_a_key_that_is_not_4_bytes_is_refused(masking, key):
    with pytest.raises(ValueError, match="4 bytes"):
        masking.mask(b"data", key)
    with pytest.raises(ValueError, match="4 bytes"):
        masking.mask_inplace(bytearray(b"data"), key)


def test_a_key_that_is_not_bytes_like_is_refused(masking):
    with pytest.raises(TypeError):
        masking.mask(b"data", "abcd")


def test_a_negative_phase_is_refused(masking):
    for phase in (-1, -(2**80)):
        with pytest.raises(ValueError, match="phase"):
            masking.mask(b"data", KEY, phase)
        with pytest.raises(ValueError, match="phase"):
            masking.mask_inplace(bytearray(b"data"), KEY, phase)


def test_a_phase_that_is_not_an_integer_is_refused(masking):
    with pytest.raises(TypeError):
        masking.mask(b"data", KEY, 1.0)


@pytest.mark.parametrize("data", ["text", 1234, None, memoryview(b"abcdefgh")[::2]])
def test_mask_refuses_what_is_not_a_contiguous_buffer(masking, data):
    with pytest.raises(TypeError, match="C-contiguous bytes-like"):
        masking.mask(data, KEY)


@pytest.mark.parametrize(
    "buffer", [b"read-only", memoryview(b"read-only"), memoryview(bytearray(8))[::2], "text"]
)
def test_mask_inplace_refuses_what_is_not_a_writable_contiguous_buffer(masking, buffer):
    with pytest.raises(TypeError, match="writable C-contiguous"):
        masking.mask_inplace(buffer, KEY)
