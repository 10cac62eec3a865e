"""The printers' word intrinsics (unaligned stores and loads, bit casts, FMA, leading zeros) against Python."""

from __future__ import annotations

import math
import struct
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from services.results.word_access import (
    address,
    bits_float,
    float_bits,
    fused_multiply_add,
    leading_zero_bits,
    load_i64,
    load_u32,
    load_u64,
    store_word,
)


@njit
def _store_and_load(out, pos, word):
    at = address(out)
    store_word(at + pos, np.uint64(word))
    store_word(at + pos + 8, np.uint32(word))
    store_word(at + pos + 12, np.uint8(word))
    return load_u64(at + pos), load_u32(at + pos + 8), load_i64(at + pos)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 19))
def test_words_go_in_and_out_at_any_offset_little_endian(word, pos):
    out = np.zeros(40, np.uint8)
    as_u64, as_u32, as_i64 = _store_and_load(out, pos, np.uint64(word))
    expected = word.to_bytes(8, "little") + (word & 0xFFFF_FFFF).to_bytes(4, "little") + bytes([word & 0xFF])
    assert bytes(out[pos : pos + 13]) == expected
    assert not out[:pos].any() and not out[pos + 13 :].any()  # nothing outside the 13 bytes written
    assert (as_u64, as_u32) == (word, word & 0xFFFF_FFFF)
    assert as_i64 == struct.unpack("<q", word.to_bytes(8, "little"))[0]


@njit
def _scalars(value, a, b, bits):
    return float_bits(value), bits_float(bits), fused_multiply_add(a, b, -(a * b)), leading_zero_bits(bits)


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False), st.floats(-1e150, 1e150), st.floats(-1e150, 1e150), st.integers(0, 2**64 - 1))
def test_bit_casts_fma_and_leading_zeros(value, a, b, bits):
    got_bits, got_float, error, zeros = _scalars(value, a, b, np.uint64(bits))
    assert got_bits == struct.unpack("<Q", struct.pack("<d", value))[0]
    expected = struct.unpack("<d", bits.to_bytes(8, "little"))[0]
    assert got_float == expected or (math.isnan(got_float) and math.isnan(expected))
    assert zeros == 64 - bits.bit_length()
    # The error of the rounded product, exactly (math.fma where Python has it).
    if hasattr(math, "fma"):
        assert error == math.fma(a, b, -(a * b))
    elif abs(a * b) > 1e-290:  # no underflow: a * b - round(a * b) is a double, computed in fractions
        assert Fraction(error) == Fraction(a) * Fraction(b) - Fraction(a * b)
