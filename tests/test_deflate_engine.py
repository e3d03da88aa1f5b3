"""The permessage-deflate engine (RFC 7692 §7) on its own: ``Inflater`` and ``Deflater``, pure
(``bolt._deflate``, on the zlib module) and compiled (``bolt._speedups.deflate``, on zlib's C API).

Every behaviour test runs against both engines; the differential tests run the same messages
through both and demand the same bytes, the same ``None``, the same errors. What the frame codec
does with the engine is tested in test_frames_deflate.py.
"""

from __future__ import annotations

import array
import gc
import os
import random
import tracemalloc
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bolt._deflate
import bolt.codec
from bolt._deflate import SAMPLE_FROM
from bolt.exceptions import MessageTooBig, ProtocolError
from tests.conftest import load_module

KiB = 1024
MiB = 1024 * KiB
TAIL = b"\x00\x00\xff\xff"
CORRUPT = "invalid compressed data"


@pytest.fixture(params=["compiled", "pure"])
def engine(request):
    """One engine's module: ``engine.Inflater``, ``engine.Deflater``."""
    return load_module(request.param, "deflate")


@pytest.fixture
def engines():
    return load_module("compiled", "deflate"), load_module("pure", "deflate")


def json_like(size: int, seed: int = 0) -> bytes:
    """Text that compresses as chat or API traffic does (repeated keys, varying values)."""
    rng = random.Random(seed)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    parts = []
    while sum(map(len, parts)) < size:
        parts.append(
            f'{{"id": {rng.randrange(10**6)}, "user": "{rng.choice(words)}_{rng.randrange(1000)}", '
            f'"tags": ["{rng.choice(words)}", "{rng.choice(words)}"], "score": {rng.random():.4f}, '
            f'"active": {str(rng.random() < 0.5).lower()}}}\n'
        )
    return "".join(parts).encode()[:size]


MESSAGES = [
    b"",
    b"a",
    b"hello hello hello hello hello hello",
    json_like(2 * KiB),
    os.urandom(3 * KiB),
    json_like(300 * KiB, seed=1),  # over the size where the compiled engine releases the GIL
    bytes(200 * KiB),
]


def send(deflater, message: bytes):
    """What a peer receives for ``message``: (compressed, payload)."""
    packed = deflater.compress(message)
    return (False, message) if packed is None else (True, packed)


def receive(inflater, payload: bytes, limit: int = -1, pieces: int = 1) -> bytes:
    """Inflate one compressed message as the frame parser does: frame by frame, each against the
    room left, then the end of the message."""
    cuts = sorted(random.Random(len(payload)).sample(range(len(payload) + 1), min(pieces - 1, len(payload) + 1)))
    output = b""
    for start, end in zip([0, *cuts], [*cuts, len(payload)]):
        output += inflater.inflate(payload[start:end], limit - len(output) if limit >= 0 else -1)
    return output + inflater.finish(limit - len(output) if limit >= 0 else -1)


def outcome(function, *args):
    """``function(*args)``, or its error as (class name, close code, the start of its reason)."""
    try:
        return function(*args)
    except ProtocolError as error:
        reason = error.reason
        if reason.startswith(CORRUPT):
            reason = CORRUPT  # the rest is zlib's own words
        return (type(error).__name__, error.close_code, reason)


def traced(action) -> int:
    """How many bytes ``action()`` left allocated (zlib's state included: both engines allocate it
    through PyMem_RawMalloc, which tracemalloc sees)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        keep = action()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del keep
    return after - before


# Selection


def test_the_codec_exports_the_engine_of_its_implementation():
    module = load_module(bolt.codec.IMPLEMENTATION, "deflate")
    assert bolt.codec.Inflater is module.Inflater and bolt.codec.Deflater is module.Deflater
    assert load_module("pure", "deflate").Inflater is bolt._deflate.Inflater


def test_the_compiled_engine_is_compiled():
    compiled = load_module("compiled", "deflate")
    assert compiled.Inflater is not bolt._deflate.Inflater
    assert compiled.ZLIB_RUNTIME_VERSION


# Round trips


@pytest.mark.parametrize("window_bits", range(9, 16))
@pytest.mark.parametrize("level", [-1, 0, 1, 6, 9])
@pytest.mark.parametrize("reset", [False, True])
def test_round_trip_at_every_window_and_level(engine, window_bits, level, reset):
    deflater = engine.Deflater(window_bits, reset, level, min_size=0)
    inflater = engine.Inflater(window_bits, reset)
    for message in MESSAGES * 2:
        compressed, payload = send(deflater, message)
        if compressed:
            assert receive(inflater, payload, pieces=3) == message
        else:
            # Sent plain: deflate could not shrink it (level 0 never does).
            assert level == 0 or message in (b"", b"a") or message == MESSAGES[4]


def test_a_larger_inflater_window_inflates_a_smaller_one(engine):
    # The peer's compressor window may be smaller than the one we inflate with (RFC 7692 §7.1.2).
    deflater, inflater = engine.Deflater(9, min_size=0), engine.Inflater(15)
    for message in MESSAGES:
        compressed, payload = send(deflater, message)
        assert not compressed or receive(inflater, payload) == message


def test_a_window_of_8_inflates_as_9(engine):
    # zlib's raw inflate takes 9..15; a peer that agreed 8 compresses with 9 (zlib cannot do 8).
    compressor = zlib.compressobj(6, zlib.DEFLATED, -9)
    message = json_like(5 * KiB)
    payload = (compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    assert receive(engine.Inflater(8), payload) == message


def test_context_takeover_makes_the_same_message_smaller_the_second_time(engine):
    message = json_like(4 * KiB)
    kept = engine.Deflater(min_size=0)
    first, second = kept.compress(message), kept.compress(message)
    assert len(second) < len(first) / 10
    inflater = engine.Inflater()
    assert receive(inflater, first) == message and receive(inflater, second) == message


def test_without_context_takeover_every_message_starts_afresh(engine):
    message = json_like(4 * KiB)
    reset = engine.Deflater(reset=True, min_size=0)
    first, second = reset.compress(message), reset.compress(message)
    assert first == second == engine.Deflater(min_size=0).compress(message)
    # Each inflates with a fresh inflater, and an inflater without takeover inflates them in a row.
    assert receive(engine.Inflater(), second) == message
    inflater = engine.Inflater(reset=True)
    assert receive(inflater, first) == message and receive(inflater, second) == message


def test_an_inflater_that_keeps_its_window_cannot_read_a_message_that_refers_to_a_lost_one(engine):
    message = json_like(4 * KiB)
    deflater = engine.Deflater(min_size=0)
    deflater.compress(message)
    second = deflater.compress(message)  # refers back to the first message's bytes
    assert outcome(receive, engine.Inflater(), second) == ("ProtocolError", 1002, CORRUPT)


def test_the_payload_has_no_trailing_sync_marker_and_plain_zlib_inflates_it(engine):
    message = json_like(8 * KiB)
    payload = engine.Deflater(min_size=0).compress(message)
    assert not payload.endswith(TAIL)
    assert zlib.decompressobj(-15).decompress(payload + TAIL) == message


# Twins produce the same bytes


def same_zlib(engines) -> bool:
    compiled = engines[0]
    return compiled.ZLIB_RUNTIME_VERSION == zlib.ZLIB_RUNTIME_VERSION


@pytest.mark.parametrize("window_bits", range(9, 16))
@pytest.mark.parametrize("memory_level", [1, 4, 8, 9])
def test_the_twins_compress_to_the_same_bytes(engines, window_bits, memory_level):
    """zlib's output depends only on its parameters and input, not on how the output buffer is
    handed to it (levels 1-9) — and level 0 is never smaller than its input, so None from both.
    Where the two run different zlib builds, the comparison is by inflating instead."""
    pure = engines[1]
    for level in range(-1, 10):
        for reset in (False, True):
            twins = [m.Deflater(window_bits, reset, level, memory_level, min_size=0) for m in engines]
            inflater = pure.Inflater(window_bits, reset)
            for message in MESSAGES[:5] * 2:
                got, expected = (d.compress(message) for d in twins)
                if same_zlib(engines):
                    assert got == expected, (level, reset, len(message))
                else:
                    assert (got is None) == (expected is None)
                if got is not None:
                    assert receive(inflater, got) == message


# Limits


@pytest.mark.parametrize("pieces", [1, 3])
def test_a_message_of_exactly_the_limit_inflates(engine, pieces):
    message = json_like(50 * KiB)
    payload = engine.Deflater(min_size=0).compress(message)
    assert receive(engine.Inflater(), payload, limit=len(message), pieces=pieces) == message


@pytest.mark.parametrize("pieces", [1, 3])
def test_one_byte_over_the_limit_is_1009(engine, pieces):
    message = json_like(50 * KiB)
    payload = engine.Deflater(min_size=0).compress(message)
    result = outcome(receive, engine.Inflater(), payload, len(message) - 1, pieces)
    assert result[:2] == ("MessageTooBig", 1009)
    assert result[2].startswith("decompressed message is over the limit (")


def test_a_limit_of_zero_allows_only_empty_messages(engine):
    inflater = engine.Inflater()
    assert inflater.inflate(b"\x00", 0) == b"" and inflater.finish(0) == b""
    payload = engine.Deflater(min_size=0).compress(b"x" * 100)
    with pytest.raises(MessageTooBig):
        engine.Inflater().inflate(payload, 0)


def test_negative_and_huge_limits_are_no_limit(engine):
    message = json_like(20 * KiB)
    payload = engine.Deflater(min_size=0).compress(message)
    for limit in (-1, -(2**70), 2**63 - 1, 2**70):
        inflater = engine.Inflater()
        assert inflater.inflate(payload, limit) + inflater.finish(limit) == message


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """1 GiB of zeros compressed chunk-wise (about 1 MiB): a frame no peer should make us inflate."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    chunk = bytes(MiB)
    parts = [compressor.compress(chunk) for _ in range(1024)]
    return b"".join(parts) + compressor.flush(zlib.Z_SYNC_FLUSH)[:-4]


@pytest.mark.parametrize("limit", [4 * MiB, 100 * KiB])
def test_a_deflate_bomb_stops_at_the_limit_without_inflating_the_rest(engine, bomb, limit):
    inflater = engine.Inflater()
    gc.collect()
    tracemalloc.start()
    try:
        with pytest.raises(MessageTooBig) as caught:
            inflater.inflate(bomb, limit)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.close_code == 1009
    # At most about the limit came out: the compiled engine holds the output and zlib's state
    # (about 40 KiB). The zlib module joins its output blocks at the end (twice the limit), and
    # keeps a copy of the input it did not read (``unconsumed_tail``).
    allowed = 3 * limit + 256 * KiB
    if engine.Inflater is bolt._deflate.Inflater:
        allowed += len(bomb)
    assert peak < allowed, peak


def test_a_bomb_spread_over_many_frames_stops_at_the_limit(engine, bomb):
    inflater, limit, output = engine.Inflater(), 4 * MiB, 0
    with pytest.raises(MessageTooBig):
        for start in range(0, len(bomb), 4 * KiB):
            output += len(inflater.inflate(bomb[start : start + 4 * KiB], limit - output))
    assert output <= limit


# Corrupt input


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xff\xff\xff",  # reserved block type 11
        b"\x00\x00\x00\x00\x00",  # stored block whose length and its complement disagree
        b"\x02\x01\x00",  # fixed Huffman block whose first match refers before the start
        zlib.compressobj(6, zlib.DEFLATED, 15).compress(b"x" * 100) + b"\x00",  # a zlib header: not raw deflate
    ],
)
def test_corrupt_input_is_a_protocol_error_1002(engine, payload):
    inflater = engine.Inflater()
    result = outcome(receive, inflater, payload)
    assert result == ("ProtocolError", 1002, CORRUPT)
    # The stream stays broken: every later call fails the same way.
    assert outcome(inflater.inflate, b"", 100) == ("ProtocolError", 1002, CORRUPT)


def test_corrupt_input_message_names_zlibs_complaint(engine):
    with pytest.raises(ProtocolError) as caught:
        engine.Inflater().inflate(b"\xff\xff\xff\xff", -1)
    assert type(caught.value) is ProtocolError
    assert caught.value.reason.startswith("invalid compressed data: ") and "invalid block type" in caught.value.reason
    assert caught.value.__cause__ is None


def test_errors_of_the_arguments_are_the_same(engines):
    def both(make, method, *args):
        return [outcome_type(getattr(make(m), method), *args) for m in engines]

    for bad in ("text", 3, None):
        assert both(lambda m: m.Inflater(), "inflate", bad, -1) == ["TypeError"] * 2
        assert both(lambda m: m.Deflater(), "compress", bad) == ["TypeError"] * 2
    strided = memoryview(b"abcdef")[::2]
    assert both(lambda m: m.Inflater(), "inflate", strided, -1) == ["BufferError"] * 2
    assert both(lambda m: m.Inflater(), "inflate", b"", 1.5) == ["TypeError"] * 2
    for options in ({"window_bits": 16}, {"window_bits": 8}, {"level": 10}, {"memory_level": 0}):
        assert both(lambda m, options=options: m.Deflater(**options), "compress", b"x") == ["ValueError"] * 2
    assert both(lambda m: m.Inflater(16), "inflate", b"", -1) == ["ValueError"] * 2


def outcome_type(function, *args) -> str:
    try:
        function(*args)
    except (TypeError, ValueError, BufferError) as error:
        return type(error).__name__
    return "ok"


# Empty messages


def test_an_empty_message_is_sent_plain(engine):
    deflater = engine.Deflater(min_size=0)
    assert deflater.compress(b"") is None
    deflater.compress(json_like(KiB))
    assert deflater.compress(b"") is None  # also right after another message


def test_empty_compressed_messages_inflate_to_nothing(engine):
    inflater = engine.Inflater()
    # The single 0x00 of an empty stored block (RFC 7692 §7.2.3.6), and an empty fixed-Huffman
    # block, which other compressors send.
    for payload in (b"\x00", b"\x02\x00"):
        assert receive(inflater, payload) == b""
    assert receive(inflater, engine.Deflater(min_size=0).compress(b"after" * 50)) == b"after" * 50


# Incompressible messages


def test_random_data_is_sent_plain_and_the_next_message_still_inflates(engine):
    deflater, inflater = engine.Deflater(min_size=0), engine.Inflater()
    message = json_like(4 * KiB)
    assert receive(inflater, deflater.compress(message)) == message
    # Under SAMPLE_FROM a whole deflate pass finds random data does not shrink...
    assert deflater.compress(os.urandom(SAMPLE_FROM - 1)) is None
    # ...so the compressor started afresh: its next message refers to nothing before it...
    after = deflater.compress(message)
    assert after == engine.Deflater(min_size=0).compress(message)
    # ...and inflates both with the receiver's kept window and with a fresh one.
    assert receive(inflater, after) == message
    assert receive(engine.Inflater(), after) == message


def test_min_size_is_an_attribute(engine):
    assert engine.Deflater().min_size == 128
    deflater = engine.Deflater(min_size=7)
    assert deflater.min_size == 7
    deflater.min_size = 9
    assert deflater.min_size == 9


# Inputs


def buffers(data: bytes):
    """``data`` as each kind of buffer a caller passes: the parser passes memoryviews over its
    receive buffer, the writer bytes, bytearray or a memoryview."""
    backing = bytearray(b"\xaa" * 5 + data + b"\xbb" * 5)
    yield data
    yield bytearray(data)
    yield memoryview(data)
    yield memoryview(backing)[5 : 5 + len(data)]
    yield memoryview(bytearray(data)).toreadonly()
    if len(data) % 2 == 0:
        yield array.array("H", data)  # counted in bytes, not items
        yield memoryview(data).cast("H")


def test_every_buffer_kind_compresses_the_same(engine):
    message = json_like(6 * KiB)
    expected = engine.Deflater(min_size=0).compress(message)
    for data in buffers(message):
        assert engine.Deflater(min_size=0).compress(data) == expected


def test_every_buffer_kind_inflates_the_same(engine):
    for size in range(6 * KiB, 6 * KiB + 64):  # a payload of even length, for the 2-byte formats
        message = json_like(size)
        payload = engine.Deflater(min_size=0).compress(message)
        if len(payload) % 2 == 0:
            break
    for data in buffers(payload):
        inflater = engine.Inflater()
        assert inflater.inflate(data, -1) + inflater.finish(-1) == message


def test_results_are_exact_bytes(engine):
    inflater, deflater = engine.Inflater(), engine.Deflater(min_size=0)
    payload = deflater.compress(bytearray(json_like(KiB)))
    assert type(payload) is bytes
    assert type(inflater.inflate(memoryview(payload), 10 * KiB)) is bytes
    assert type(inflater.finish(10 * KiB)) is bytes
    assert type(engine.Inflater().inflate(b"", -1)) is bytes


# Memory: zlib's state exists only while a context is kept


def test_no_state_before_the_first_message(engine):
    assert traced(lambda: [engine.Inflater() for _ in range(10)]) < 10 * 1024
    assert traced(lambda: [engine.Deflater() for _ in range(10)]) < 10 * 1024


def test_the_first_message_allocates_a_context_and_reset_drops_it(engine):
    message = json_like(8 * KiB)
    payload = engine.Deflater(min_size=0).compress(message)

    def kept(reset):
        inflater, deflater = engine.Inflater(reset=reset), engine.Deflater(reset=reset, min_size=0)
        assert receive(inflater, payload) == message
        deflater.compress(message)
        return inflater, deflater

    # A kept inflater holds its state and 32 KiB window; a kept deflater about 256 KiB (memLevel 8).
    assert traced(lambda: kept(False)) > 200 * 1024
    assert traced(lambda: kept(True)) < 4 * 1024


def test_a_message_sent_plain_drops_the_compressor(engine):
    def plain():
        deflater = engine.Deflater(min_size=0)
        assert deflater.compress(os.urandom(KiB)) is None
        return deflater

    assert traced(plain) < 4 * 1024


def test_reinitialising_drops_the_context(engine):
    message = json_like(8 * KiB)
    deflater = engine.Deflater(min_size=0)
    deflater.compress(message)
    deflater.__init__(min_size=0)
    assert deflater.compress(message) == engine.Deflater(min_size=0).compress(message)


# Differential: random message sequences through both engines


message_strategy = st.one_of(
    st.binary(max_size=600),
    st.text(max_size=300).map(str.encode),
    st.builds(lambda word, n: word * n, st.binary(min_size=1, max_size=12), st.integers(1, 400)),
    st.integers(0, 10**6).map(lambda seed: json_like(seed % 3000, seed)),
)


@st.composite
def scenarios(draw):
    window_bits = draw(st.integers(9, 15))
    return {
        "window_bits": window_bits,
        "inflate_window_bits": draw(st.integers(window_bits, 15)),
        "reset": draw(st.booleans()),
        "level": draw(st.integers(-1, 9)),
        "memory_level": draw(st.integers(1, 9)),
        "messages": draw(st.lists(message_strategy, min_size=1, max_size=8)),
        # Per message: the limit (None: none) relative to its size, the frames it is cut into,
        # and a byte to corrupt (None: none).
        "receipts": draw(
            st.lists(
                st.tuples(
                    st.one_of(st.none(), st.integers(-3, 3)),
                    st.integers(1, 4),
                    st.one_of(st.none(), st.tuples(st.integers(0, 10**6), st.integers(1, 255))),
                ),
                min_size=8,
                max_size=8,
            )
        ),
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_both_engines_give_the_same_results(scenario):
    compiled, pure = load_module("compiled", "deflate"), load_module("pure", "deflate")
    options = (scenario["window_bits"], scenario["reset"], scenario["level"], scenario["memory_level"])
    deflaters = [m.Deflater(*options, min_size=0) for m in (compiled, pure)]
    inflaters = [m.Inflater(scenario["inflate_window_bits"], scenario["reset"]) for m in (compiled, pure)]
    failed = corrupted = False
    for message, (slack, pieces, corruption) in zip(scenario["messages"], scenario["receipts"]):
        sent = [d.compress(message) for d in deflaters]
        if compiled.ZLIB_RUNTIME_VERSION == zlib.ZLIB_RUNTIME_VERSION:
            assert sent[0] == sent[1]
        assert (sent[0] is None) == (sent[1] is None)
        payload = sent[1]
        if payload is None or failed:
            continue  # sent plain: the inflaters never see it; after an error, the connection is over
        if corruption is not None and payload:
            # Corrupt data may still inflate, to other bytes: from then on only the twins agree.
            corrupted = True
            position, flip = corruption
            payload = bytearray(payload)
            payload[position % len(payload)] ^= flip
            payload = bytes(payload)
        limit = -1 if slack is None else max(0, len(message) + slack)
        results = [outcome(receive, inflater, payload, limit, pieces) for inflater in inflaters]
        assert results[0] == results[1]
        if type(results[1]) is tuple:
            failed = True
        elif not corrupted:
            assert results[1] == message


@settings(max_examples=300, deadline=None)
@given(payloads=st.lists(st.binary(max_size=64), min_size=1, max_size=4), limit=st.integers(-1, 200))
def test_both_engines_fail_alike_on_garbage(payloads, limit):
    compiled, pure = load_module("compiled", "deflate"), load_module("pure", "deflate")
    results = []
    for module in (compiled, pure):
        inflater, seen = module.Inflater(), []
        for payload in payloads:
            result = outcome(receive, inflater, payload, limit)
            seen.append(result)
            if type(result) is tuple:
                break
        results.append(seen)
    assert results[0] == results[1]



def test_a_long_message_judged_by_its_sample_leaves_the_context_alone(engine):
    """From SAMPLE_FROM bytes on, a sample of the start decides: random data is sent plain without
    the compressor ever seeing it, so the context (shared with the peer's inflater) is kept."""
    deflater, inflater = engine.Deflater(min_size=0), engine.Inflater()
    message = json_like(4 * KiB)
    assert receive(inflater, deflater.compress(message)) == message
    assert deflater.compress(os.urandom(64 * KiB)) is None
    after = deflater.compress(message)
    assert len(after) < len(engine.Deflater(min_size=0).compress(message))  # refers back to the first
    assert receive(inflater, after) == message
