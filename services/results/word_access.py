"""Whole words in and out of memory at any address, for the compiled JSON printers.

Numba writes a uint8 array a byte at a time; the printers build eight ASCII
characters in one 64-bit register (digits, a clock, a key) and store them
with one unaligned `mov`, at addresses taken once per batch (see `address`).
Nothing here checks bounds: the caller keeps every access inside its array
(the printers' buffers carry SLACK bytes past what a batch can need, because
they store whole words past the end of a text and write the next text over
them).
"""

from __future__ import annotations

import sys

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

# The printers build text in words whose first character is the low byte.
if sys.byteorder != "little":
    raise ImportError("services.results.word_access: the JSON printers' words are little-endian")

SLACK = 64  # bytes a printer may store past the end of its text


@intrinsic
def address(typingctx, array):
    """The address of an array's first element, as an integer.

    The printers' helpers take this rather than the array: numba counts references to an
    array each time it is handed to an inlined function, an atomic increment and decrement
    per call and per row, which were half of the printing loops' time. The array must stay
    alive (an argument of the kernel) while the address is used.
    """
    if not isinstance(array, types.Array):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        return builder.ptrtoint(data, ir.IntType(64))

    return types.int64(array), codegen


@intrinsic
def store_word(typingctx, at, value):
    """The bytes of the integer `value` (its type's width, little-endian) at address `at`, unaligned."""
    if not (isinstance(at, types.Integer) and isinstance(value, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        pointer = builder.inttoptr(args[0], ir.PointerType(args[1].type))
        builder.store(args[1], pointer, align=1)
        return context.get_dummy_value()

    return types.void(at, value), codegen


def _loader(result: types.Integer):
    @intrinsic
    def load(typingctx, at):
        if not isinstance(at, types.Integer):
            return None

        def codegen(context, builder, signature, args):
            pointer = builder.inttoptr(args[0], ir.PointerType(ir.IntType(result.bitwidth)))
            return builder.load(pointer, align=1)

        return result(at), codegen

    return load


# The integer at address `at` (little-endian, unaligned).
load_u64 = _loader(types.uint64)
load_i64 = _loader(types.int64)
load_u32 = _loader(types.uint32)


@intrinsic
def float_bits(typingctx, value):
    """The IEEE bits of a float64 as a uint64."""
    if value != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.uint64(value), codegen


@intrinsic
def bits_float(typingctx, bits):
    """The float64 whose IEEE bits are the uint64 `bits`."""
    if bits != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(bits), codegen


@intrinsic
def fused_multiply_add(typingctx, a, b, c):
    """The value a * b + c with one rounding (the CPU's FMA instruction where it has one, else libm's exact fma)."""
    if not (a == b == c == types.float64):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return types.float64(a, b, c), codegen


@intrinsic
def leading_zero_bits(typingctx, value):
    """How many of a uint64's top bits are zero (64 for zero)."""
    if value != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        return builder.ctlz(args[0], ir.Constant(ir.IntType(1), 0))

    return types.uint64(value), codegen
