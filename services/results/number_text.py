"""Doubles as the gateway prints them in JSON, at compiled speed.

The gateway (Envoy, or the local transcoder that copies it) prints a double
as protobuf's C++ printer does: `%.15g` when that reads back as the same
double, else `%.17g`; a whole number under 10^15 as an integer (`10`, not
`10.0`); NaN and the infinities as the strings "NaN", "Infinity",
"-Infinity". `format_double` is that rule one value at a time, in Python.

The JSON renderings of equity curves and trade lists print millions of
doubles, so `write_double` (numba, called from the row printers' compiled
loops) computes the same text without Python, exactly, not approximately:

- the 17 significant digits are v * 10^k rounded half-even, where the
  product is computed exactly as the sum of two doubles (a two-product,
  by fused multiply-add) and rounded from that sum; the 15 digits are
  rounded from the same exact sum;
- "reads back as the same double" is decided by one IEEE division of the
  15-digit integer by a power of ten, both exact, which is correctly rounded
  just as strtod is.

That covers 1e-4 <= |v| < 1e15, where `%g` prints without an exponent and
every power of ten involved is an exact double. Further out (a curve that
lost nearly everything sinks to 1e-7 and below; a fifth of a million-bar
crossover's points did, and printing them in Python took four times as long
as the rest), the power of ten is not a double: there v * 10^k comes from a
double-double of 10^k (106 bits, from exact fractions at import), good to
about 1e-14 in the digits' last place. A rounding, or the read-back test,
that falls within 1e-9 of its boundary cannot be decided from that, and
`write_double` says so (-1); the value then goes to `format_double`, like
zero, -0.0, NaN, the infinities and subnormals, which are always printed by
it before the loop runs (see `reference_texts`).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from fractions import Fraction

import numpy as np
from numba import njit

from services.results.kernel_arrays import read_only
from services.results.text_table import TextTable
from services.results.word_access import (
    address,
    bits_float,
    float_bits,
    fused_multiply_add,
    leading_zero_bits,
    store_word,
)

WIDTH = 24  # the longest text: "-2.2250738585072014e-308"
LOW, HIGH = 1e-4, 1e15  # write_double's range of magnitudes
_POW10 = 10.0 ** np.arange(23)  # 1e0 ... 1e22, each exact as a double
_E16, _E17 = 10**16, 10**17
_POW10_ALL = 10.0 ** np.arange(-4, 16)  # index k + 4: 10^k, for _exponent
_TINY, _HUGE = sys.float_info.min, sys.float_info.max  # normal doubles: write_double's whole range
_UNDECIDED = 1e-9  # closer than this (in units of the 17th digit) to a rounding boundary: format_double decides
_ASCII_ZEROS = np.uint64(0x3030_3030_3030_3030)  # "0" in every byte of a word
_ZERO_POINT = np.uint64(0x3030_3030_3030_2E30)  # "0.000000" stored little-endian


def _ten_powers(low: int, high: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For low <= k <= high: 10^k / 2^s as a double-double (high part, low part), and 2^s.

    The shift s keeps the power and the value it scales (times 2^s, exactly) inside the
    normal doubles, with room for the two-product's splits; Fraction makes each part
    the correctly rounded double.
    """
    highs, lows, shifts = [], [], []
    for power in range(low, high + 1):
        shift = 96 if power > 0 else -64
        exact = Fraction(10) ** power / Fraction(2) ** shift
        part = float(exact)
        highs.append(part)
        lows.append(float(exact - Fraction(part)))
        shifts.append(2.0**shift)
    return np.array(highs), np.array(lows), np.array(shifts)


# 10^k for the far values: k = 16 - floor(log10 |v|) runs from -292 (|v| near 1.8e308) to 325 (near 2.2e-308).
_FAR_LOW, _FAR_HIGH = -292, 325
_TEN_HIGH, _TEN_LOW, _TEN_SHIFT = _ten_powers(_FAR_LOW, _FAR_HIGH)
# 10^k rounded to a double, for k from _POW10_FAR_LOW: _write_far's estimate of the exponent.
_POW10_FAR_LOW = -310
_POW10_FAR = np.array([float(f"1e{k}") for k in range(_POW10_FAR_LOW, 309)])  # correctly rounded by strtod


def format_double(value: float) -> str:
    """One double as the C++ printer prints it: the rule `write_double` must equal."""
    if math.isnan(value):
        return '"NaN"'
    if math.isinf(value):
        return '"Infinity"' if value > 0 else '"-Infinity"'
    if value.is_integer() and 0 < abs(value) < 1e15:
        return str(int(value))
    text = format(value, ".15g")
    return text if float(text) == value else format(value, ".17g")


def reference_texts(values: np.ndarray, undecided: Iterable[int] = ()) -> TextTable:
    """The texts of the values `write_double` does not print, printed by `format_double`.

    values: float64 array; the table's code is -1 for every value write_double prints.
    undecided: further indexes into values, those write_double could not decide (it returned -1).
    """
    undecided = list(undecided)
    if len(values) and not undecided and _all_normal(read_only(np.ascontiguousarray(values, dtype=np.float64))):
        return TextTable.of_texts(np.full(len(values), -1, np.int32), [])  # the usual batch
    magnitude = np.abs(values)
    with np.errstate(invalid="ignore"):
        outside = ~((magnitude >= _TINY) & (magnitude <= _HUGE))  # NaN compares False: outside
    outside[undecided] = True
    rows = np.flatnonzero(outside)
    return TextTable.sparse(len(values), rows, [format_double(float(values[row])) for row in rows])


@njit(cache=True, nogil=True)
def _all_normal(values: np.ndarray) -> bool:
    """Whether every value is a normal double (no zero, NaN, infinity or subnormal), in one pass.

    Rather than np.abs(values) and its min and max: a batch-sized temporary (256 KiB for a
    curve batch, mapped and faulted in afresh at the results service's mmap threshold).
    """
    for value in values:
        magnitude = abs(value)
        if not (magnitude >= _TINY and magnitude <= _HUGE):  # NaN compares False: not normal
            return False
    return True


# A call, not inlined: its helpers are inlined into it once, and numba-level inlining of the
# whole tree into each call site (one in the curve loop, five in the trade loop) made a cold
# compile of the printers take about 90 s of CPU instead of about 12, for ~5% less printing time.
@njit(cache=True, nogil=True)
def write_double(value: float, at: int, pos: int) -> int:
    """Writes a normal double (not 0, NaN, infinite or subnormal) at address at + pos; returns the position after it.

    at: a byte buffer's address (word_access.address), with room for 40 bytes from pos.

    -1 instead when its text cannot be decided here (1e-4 <= |value| < 1e15 always is).
    """
    # A "-" is stored either way (the digits overwrite it) and counted only when negative:
    # a curve's returns or a trade list's pnl change sign at random, a branch on it did not.
    store_word(at + pos, np.uint8(45))
    pos += np.int64(value < 0)
    value = abs(value)
    if not LOW <= value < HIGH:
        return _write_far(value, at, pos)
    exponent = _exponent(value)
    total, fraction = _scaled(value, 16 - exponent)
    digits17 = _round_half_even(total, fraction)
    while digits17 < _E16 or digits17 > _E17:  # the estimate was one off next to a power of ten
        exponent += -1 if digits17 < _E16 else 1
        total, fraction = _scaled(value, 16 - exponent)
        digits17 = _round_half_even(total, fraction)
    exponent17 = exponent
    if digits17 == _E17:  # 9.99...95 rounded up to the next power of ten
        digits17, exponent17 = _E16, exponent + 1
    # 15 digits, rounded from the same exact sum (unsigned: division by 100 is a multiply).
    whole = np.uint64(total)
    quotient = whole // np.uint64(100)
    remainder = whole - quotient * np.uint64(100)
    up = (remainder > 50) | ((remainder == 50) & ((fraction > 0) | (quotient & np.uint64(1) == 1)))  # no branch
    digits15 = np.int64(quotient) + np.int64(up)
    exponent15 = exponent
    if digits15 == _E17 // 100:
        digits15, exponent15 = _E16 // 100, exponent + 1
    if exponent15 <= 14 and float(digits15) / _POW10[14 - exponent15] == value:
        return _write_fixed(digits15, 15, exponent15, at, pos)
    return _write_fixed(digits17, 17, exponent17, at, pos)


@njit(cache=True, nogil=True)
def write_double_into(value: float, out: np.ndarray, pos: int) -> int:
    """write_double into out[pos:] (40 bytes of room), for callers outside the printing loops."""
    return write_double(value, address(out), pos)


@njit(cache=True, nogil=True, inline="always")
def _write_far(value: float, at: int, pos: int) -> int:
    """write_double for a positive normal value outside [LOW, HIGH): `%g`'s exponent form, mostly.

    As write_double, from v * 10^k in whole and fraction, but the product is only known
    to about 1e-14 (see _scaled_far): where a rounding or the read-back test is closer
    than _UNDECIDED to its boundary (an exact tie included), -1.
    """
    # frexp's value = mantissa * 2^binary, 0.5 <= mantissa < 1, from the bits (frexp is a call into libm).
    bits = float_bits(value)
    binary = np.int64(bits >> np.uint64(52)) - 1022
    power_of_two = bits & np.uint64(0xF_FFFF_FFFF_FFFF) == 0  # mantissa == 0.5
    exponent = _log10_of_power_of_two(binary - 1)  # floor(log10 value), or one less
    # One more where value reaches 10^(exponent + 1) (rounded: off by one next to it, which the
    # loop below corrects), rather than a second product for three values in ten.
    exponent += np.int64(value >= _POW10_FAR[exponent + 1 - _POW10_FAR_LOW])
    total, fraction = _scaled_far(value, 16 - exponent)
    digits17 = _round_half_even(total, fraction)
    while digits17 < _E16 or digits17 > _E17:
        if total < 0:
            return -1
        exponent += -1 if digits17 < _E16 else 1
        total, fraction = _scaled_far(value, 16 - exponent)
        digits17 = _round_half_even(total, fraction)
    if abs(fraction - 0.5) < _UNDECIDED:
        return -1
    exponent17 = exponent
    if digits17 == _E17:
        digits17, exponent17 = _E16, exponent + 1
    whole = np.uint64(total)  # unsigned: division by 100 is a multiply
    quotient = np.int64(whole // np.uint64(100))
    halfway = np.int64(whole - np.uint64(quotient) * np.uint64(100)) + fraction - 50.0
    if abs(halfway) < _UNDECIDED:
        return -1
    digits15 = quotient + np.int64(halfway > 0)  # no branch: a coin toss
    # Does the 15-digit text read back as value? Only if it lies within half the gap to the
    # neighbouring double on its side (below a power of two that gap is half as wide).
    gap = _power_of_two(binary - 53) * _TEN_SHIFT[16 - exponent - _FAR_LOW] * _TEN_HIGH[16 - exponent - _FAR_LOW]
    distance = float(digits15 * 100 - total) - fraction
    half = gap / 2 if distance >= 0 or not power_of_two else gap / 4
    if abs(abs(distance) - half) < _UNDECIDED:
        return -1
    exponent15 = exponent
    if digits15 == _E17 // 100:
        digits15, exponent15 = _E16 // 100, exponent + 1
    if abs(distance) < half:
        return _write_general(digits15, 15, exponent15, at, pos)
    return _write_general(digits17, 17, exponent17, at, pos)


@njit(cache=True, nogil=True, inline="always")
def _log10_of_power_of_two(power: int) -> int:
    """floor(power * log10(2)) for |power| <= 1100, in integers (78913 / 2^18 is log10(2) closely enough).

    The same as int(math.floor(power * 0.3010299956639812)) for every power a double has
    (test_json_text checks them all), without the float round trip on the digits' critical path.
    """
    return (power * 78_913) >> 18


@njit(cache=True, nogil=True, inline="always")
def _power_of_two(power: int) -> float:
    """2.0 ** power, from the bits where it is a normal double (ldexp, a libm call, below)."""
    if power < -1022:
        return math.ldexp(1.0, power)
    return bits_float(np.uint64(power + 1023) << np.uint64(52))


@njit(cache=True, nogil=True, inline="always")
def _two_product(a: float, b: float) -> tuple[float, float]:
    """The product a * b exactly as high + low, high being the rounded product.

    The error of a rounded product is a double (barring underflow, which the callers'
    ranges exclude), and a fused multiply-add computes a * b - high with one rounding,
    so exactly: the same pair as Dekker's split product, in two instructions.
    """
    high = a * b
    return high, fused_multiply_add(a, b, -high)


@njit(cache=True, nogil=True, inline="always")
def _scaled_far(value: float, power: int) -> tuple[int, float]:
    """Value * 10^power as (whole part, fraction in [0, 1)), to about 1e-14; (-1, 0.0) off the table.

    (value * 2^s) * (high + low), high + low being 10^power / 2^s to 106 bits: the first
    product exactly as the sum of two doubles (_two_product), the second rounded.
    Each error is about 2^-106 of the product (< 2^60), so their sum stays under 1e-14.
    """
    index = power - _FAR_LOW
    if index < 0 or index > _FAR_HIGH - _FAR_LOW:
        return -1, 0.0
    scaled = value * _TEN_SHIFT[index]
    high, error = _two_product(scaled, _TEN_HIGH[index])
    low = error + scaled * _TEN_LOW[index]
    low_floor = math.floor(low)
    if high >= 9.2e18:  # only a wrong estimate gets here; the caller's range check sends it back
        return _E17 * 10, 0.0
    return int(high) + int(low_floor), low - low_floor


@njit(cache=True, nogil=True, inline="always")
def _write_general(digits: int, count: int, exponent: int, at: int, pos: int) -> int:
    """`%.<count>g` of digits * 10^(exponent - count + 1): fixed when -4 <= exponent < count, else d.ddde-XX."""
    if -4 <= exponent < count:
        return _write_fixed(digits, count, exponent, at, pos)
    lead, high, low, significant = _digit_words(digits, count)
    store_word(at + pos, np.uint8(lead + np.uint64(48)))
    if significant > 1:  # "d.ddd": the block goes after the point
        store_word(at + pos + 1, np.uint8(46))  # "."
        store_word(at + pos + 2, high)
        store_word(at + pos + 10, low)
        pos += significant + 1
    else:
        pos += 1
    store_word(at + pos, np.uint8(101))  # "e"
    store_word(at + pos + 1, np.uint8(45 if exponent < 0 else 43))  # "-" or "+"
    magnitude = abs(exponent)
    if magnitude >= 100:  # at least two digits, as C's printf
        store_word(at + pos + 2, np.uint8(48 + magnitude // 100))
        magnitude %= 100
        pos += 1
    store_word(at + pos + 2, np.uint8(48 + magnitude // 10))
    store_word(at + pos + 3, np.uint8(48 + magnitude % 10))
    return pos + 4


@njit(cache=True, nogil=True, inline="always")
def _exponent(value: float) -> int:
    """floor(log10(value)) for LOW <= value < HIGH from the binary exponent, without log10.

    value is in [2^(e-1), 2^e), so the answer is floor((e - 1) log10 2) or one more. Where
    10^k is not an exact double (k < 0) the comparison may be one off; write_double's range
    check corrects that.
    """
    binary = np.int64((float_bits(value) >> np.uint64(52)) & np.uint64(0x7FF)) - 1022  # frexp's, for a normal value
    exponent = _log10_of_power_of_two(binary - 1)  # -5 ... 14 here
    # Added, not branched on: a curve that starts at 100000 crosses 10^5 at random.
    exponent += np.int64(value >= _POW10_ALL[exponent + 5])  # 10^15 at most: value < HIGH stays below it
    return min(max(exponent, -4), 14)


@njit(cache=True, nogil=True, inline="always")
def _scaled(value: float, power: int) -> tuple[int, float]:
    """The product value * 10^power, exactly, as (whole part, fraction in [0, 1)); it must be >= 2^53.

    _two_product gives the product as high + low exactly; from 2^53 up `high` is a
    whole number, so the whole part and fraction come from `low` alone, without rounding.
    """
    high, low = _two_product(value, _POW10[power])
    low_floor = math.floor(low)
    if high >= 9.2e18:  # only a wrong estimate gets here; the caller's range check sends it back
        return _E17 * 10, 0.0
    return int(high) + int(low_floor), low - low_floor


@njit(cache=True, nogil=True, inline="always")
def _round_half_even(whole: int, fraction: float) -> int:
    # `|` and `&`, not `or` and `and`: the rounding of random digits is a coin toss, and a
    # branch on it was mispredicted half the time; this compiles to flags and an add.
    return whole + np.int64((fraction > 0.5) | ((fraction == 0.5) & (whole & 1 == 1)))


@njit(cache=True, nogil=True, inline="always")
def _write_fixed(digits: int, count: int, exponent: int, at: int, pos: int) -> int:
    """Writes `count` (15 or 17) significant digits times 10^(exponent - count + 1) as %g does without an exponent.

    -4 <= exponent < count; trailing zeros after the point and a bare point are dropped.
    The digits are made eight at a time in registers (see _eight) and stored as whole
    words, the point put in by storing the fraction's words one byte further on: no
    division by a variable power of ten, no loop per digit. Stores run up to 34 bytes
    past pos, beyond the text's end (see word_access.SLACK).
    """
    lead, high, low, significant = _digit_words(digits, count)
    start = pos
    if exponent < 0:  # "0." and -exponent - 1 zeros, then the digits
        store_word(at + pos, _ZERO_POINT)
        start = pos + 1 - exponent
    store_word(at + start, np.uint8(lead + np.uint64(48)))
    store_word(at + start + 1, high)
    store_word(at + start + 9, low)
    if exponent < 0:
        return start + significant
    if significant <= exponent + 1:  # a whole number: the digits written are its digits, zeros included
        return pos + exponent + 1
    # The fraction starts at the block's byte `exponent`; from there the block moves one byte on.
    if exponent == 0:
        tail_high, tail_low = high, low
    elif exponent < 8:
        tail_high = (high >> np.uint64(8 * exponent)) | (low << np.uint64(64 - 8 * exponent))
        tail_low = low >> np.uint64(8 * exponent)
    else:
        tail_high, tail_low = low >> np.uint64(8 * (exponent - 8)), np.uint64(0)
    store_word(at + pos + exponent + 1, np.uint8(46))  # "."
    store_word(at + pos + exponent + 2, tail_high)
    store_word(at + pos + exponent + 10, tail_low)
    return pos + significant + 1


@njit(cache=True, nogil=True, inline="always")
def _digit_words(digits: int, count: int):
    """The 15 or 17 digits of `digits` as (first digit, ASCII words of the next 16, digits up to the last nonzero one).

    The next 16 are the rest left-aligned: 16 digits, or 14 and two zeros.
    """
    number = np.uint64(digits)
    scale = np.uint64(10**16) if count == 17 else np.uint64(10**14)
    lead = number // scale
    rest = number - lead * scale
    if count != 17:
        rest *= np.uint64(100)
    high, low = _sixteen(rest)
    significant = 17 - _trailing_zero_digits(high, low)  # 15 digits: the padding is trailing zeros
    return lead, high + _ASCII_ZEROS, low + _ASCII_ZEROS, significant


@njit(cache=True, nogil=True, inline="always")
def _sixteen(number):
    """The 16 decimal digits of a uint64 below 10^16 (leading zeros included) as two words of _eight."""
    high = number // np.uint64(100_000_000)
    return _eight(high), _eight(number - high * np.uint64(100_000_000))


@njit(cache=True, nogil=True, inline="always")
def _eight(number):
    """The 8 decimal digits of a uint64 below 10^8 as byte values 0-9 in one word, the first digit in its low byte.

    Stored little-endian after adding "0" to each byte, that is the text. The four 2-digit
    and eight 1-digit splits are done in parallel lanes of the word, with multiplications
    by reciprocals exact in the lanes' ranges (10486 / 2^20 for / 100 below 10^4, 103 / 2^10
    for / 10 below 100): the method of fast integer printers such as Lemire's.
    """
    high = number // np.uint64(10_000)
    merged = high | ((number - high * np.uint64(10_000)) << np.uint64(32))
    hundreds = ((merged * np.uint64(10_486)) >> np.uint64(20)) & np.uint64(0x0000_007F_0000_007F)
    pairs = ((merged - np.uint64(100) * hundreds) << np.uint64(16)) + hundreds
    tens = ((pairs * np.uint64(103)) >> np.uint64(10)) & np.uint64(0x000F_000F_000F_000F)
    return tens + ((pairs - np.uint64(10) * tens) << np.uint64(8))


@njit(cache=True, nogil=True, inline="always")
def _trailing_zero_digits(high, low) -> int:
    """How many of the 16 digits in words from _sixteen are zeros at the end (the last digit is low's top byte)."""
    if low != 0:
        return np.int64(leading_zero_bits(low) >> np.uint64(3))
    if high != 0:
        return 8 + np.int64(leading_zero_bits(high) >> np.uint64(3))
    return 16
