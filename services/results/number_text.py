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
  product is computed exactly as the sum of two doubles (Dekker's
  two-product) and rounded from that sum; the 15 digits are rounded from
  the same exact sum;
- "reads back as the same double" is decided by one IEEE division of the
  15-digit integer by a power of ten, both exact, which is correctly rounded
  just as strtod is.

That covers 1e-4 <= |v| < 1e15, where `%g` prints without an exponent and
every power of ten involved is an exact double. Anything else (zero, -0.0,
NaN, infinities, tiny or huge values) is printed by `format_double` before
the loop runs (see `reference_texts`): rare in equity curves and trade lists.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from services.results.text_table import TextTable

WIDTH = 24  # the longest text: "-2.2250738585072014e-308"
LOW, HIGH = 1e-4, 1e15  # write_double's range of magnitudes
_POW10 = 10.0 ** np.arange(23)  # 1e0 ... 1e22, each exact as a double
_SPLIT = 134217729.0  # 2^27 + 1: splits a double into two halves whose products are exact
_E16, _E17 = 10**16, 10**17
_POW10_INT = 10 ** np.arange(19, dtype=np.uint64)
_POW10_ALL = 10.0 ** np.arange(-4, 16)  # index k + 4: 10^k, for _exponent
_PAIRS = np.frombuffer("".join(f"{n:02d}" for n in range(100)).encode("ascii"), np.uint8).copy()  # "00" ... "99"


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


def reference_texts(values: np.ndarray) -> TextTable:
    """The texts of the values `write_double` does not cover, printed by `format_double`.

    values: float64 array; the table's code is -1 for every value write_double prints.
    """
    magnitude = np.abs(values)
    if len(values) and magnitude.min() >= LOW and magnitude.max() < HIGH:  # the usual batch; NaN fails both
        return TextTable.of_texts(np.full(len(values), -1, np.int32), [])
    with np.errstate(invalid="ignore"):
        outside = ~((magnitude >= LOW) & (magnitude < HIGH))  # NaN compares False: outside
    rows = np.flatnonzero(outside)
    return TextTable.sparse(len(values), rows, [format_double(float(values[row])) for row in rows])


# A call, not inlined: its helpers are inlined into it once, and numba-level inlining of the
# whole tree into each call site (one in the curve loop, five in the trade loop) made a cold
# compile of the printers take about 90 s of CPU instead of about 12, for ~5% less printing time.
@njit(cache=True, nogil=True)
def write_double(value: float, out: np.ndarray, pos: int) -> int:
    """Writes a double with LOW <= |value| < HIGH at out[pos:]; returns the position after it."""
    if value < 0:
        out[pos] = 45  # "-"
        pos += 1
        value = -value
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
    # 15 digits, rounded from the same exact sum.
    quotient, remainder = total // 100, total % 100
    up = remainder > 50 or (remainder == 50 and (fraction > 0 or quotient % 2 == 1))
    digits15 = quotient + (1 if up else 0)
    exponent15 = exponent
    if digits15 == _E17 // 100:
        digits15, exponent15 = _E16 // 100, exponent + 1
    if exponent15 <= 14 and float(digits15) / _POW10[14 - exponent15] == value:
        return _write_fixed(digits15, 15, exponent15, out, pos)
    return _write_fixed(digits17, 17, exponent17, out, pos)


@njit(cache=True, nogil=True, inline="always")
def _exponent(value: float) -> int:
    """floor(log10(value)) for LOW <= value < HIGH from the binary exponent, without log10.

    value is in [2^(e-1), 2^e), so the answer is floor((e - 1) log10 2) or one more. Where
    10^k is not an exact double (k < 0) the comparison may be one off; write_double's range
    check corrects that.
    """
    _, binary = math.frexp(value)
    exponent = int(math.floor((binary - 1) * 0.3010299956639812))
    if exponent < 14 and value >= _POW10_ALL[exponent + 5]:
        exponent += 1
    return min(max(exponent, -4), 14)


@njit(cache=True, nogil=True, inline="always")
def _scaled(value: float, power: int) -> tuple[int, float]:
    """The product value * 10^power, exactly, as (whole part, fraction in [0, 1)); it must be >= 2^53.

    Dekker's two-product gives the product as high + low exactly; from 2^53 up `high` is a
    whole number, so the whole part and fraction come from `low` alone, without rounding.
    """
    scale = _POW10[power]
    high = value * scale
    c = _SPLIT * value
    a_hi = c - (c - value)
    a_lo = value - a_hi
    c = _SPLIT * scale
    b_hi = c - (c - scale)
    b_lo = scale - b_hi
    low = ((a_hi * b_hi - high) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    low_floor = math.floor(low)
    if high >= 9.2e18:  # only a wrong estimate gets here; the caller's range check sends it back
        return _E17 * 10, 0.0
    return int(high) + int(low_floor), low - low_floor


@njit(cache=True, nogil=True, inline="always")
def _round_half_even(whole: int, fraction: float) -> int:
    if fraction > 0.5 or (fraction == 0.5 and whole % 2 == 1):
        return whole + 1
    return whole


@njit(cache=True, nogil=True, inline="always")
def _write_fixed(digits: int, count: int, exponent: int, out: np.ndarray, pos: int) -> int:
    """Writes `count` significant digits times 10^(exponent - count + 1) as %g does without an exponent.

    -4 <= exponent < count; trailing zeros after the point and a bare point are dropped.
    Digits are written from the last one back, so nothing is allocated per value.
    """
    rest = np.uint64(digits)  # unsigned: division by a constant without sign fix-ups
    significant = count
    while significant > 1 and rest % np.uint64(10) == 0:
        rest //= np.uint64(10)
        significant -= 1
    if exponent < 0:  # "0." and -exponent - 1 zeros, then the digits
        out[pos] = 48  # "0"
        out[pos + 1] = 46  # "."
        pos += 2
        for _ in range(-exponent - 1):
            out[pos] = 48
            pos += 1
        return _write_digits(rest, significant, out, pos)
    whole = exponent + 1
    if significant <= whole:  # a whole number: the dropped zeros come back before the point
        end = _write_digits(rest, significant, out, pos)
        for index in range(whole - significant):
            out[end + index] = 48
        return end + whole - significant
    fraction = significant - whole
    scale = np.uint64(_POW10_INT[fraction])
    _write_digits(rest % scale, fraction, out, pos + whole + 1)
    out[pos + whole] = 46  # "."
    _write_digits(rest // scale, whole, out, pos)
    return pos + significant + 1


@njit(cache=True, nogil=True, inline="always")
def _write_digits(value, count: int, out: np.ndarray, pos: int) -> int:
    """The `count` decimal digits of `value` (uint64; leading zeros included) at out[pos:].

    Two digits at a time from a table, in 32-bit arithmetic once eight digits are split off.
    """
    index = pos + count
    if count > 8:
        low = np.uint32(value % np.uint64(100_000_000))
        value //= np.uint64(100_000_000)
        for _ in range(4):
            pair = (low % np.uint32(100)) * np.uint32(2)
            low //= np.uint32(100)
            out[index - 2] = _PAIRS[pair]
            out[index - 1] = _PAIRS[pair + 1]
            index -= 2
    rest = np.uint32(value)
    while index - pos >= 2:
        pair = (rest % np.uint32(100)) * np.uint32(2)
        rest //= np.uint32(100)
        out[index - 2] = _PAIRS[pair]
        out[index - 1] = _PAIRS[pair + 1]
        index -= 2
    if index > pos:
        out[pos] = 48 + rest % np.uint32(10)
    return pos + count
