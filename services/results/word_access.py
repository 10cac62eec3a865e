"""Whole words in and out of byte arrays at any position, for the compiled JSON printers.

Numba writes a uint8 array a byte at a time; the printers build eight ASCII
characters in one 64-bit register (digits, a clock, a key) and store them
with one unaligned `mov`. Nothing here checks bounds: the caller keeps
`pos + size` inside the array (the printers' buffers carry SLACK bytes past
what a batch can need, because they store whole words past the end of a
text and write the next text over them).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

SLACK = 64  # bytes a printer may store past the end of its text


def _byte_array(array) -> bool:
    return isinstance(array, types.Array) and array.dtype == types.uint8


@intrinsic
def store_word(typingctx, out, pos, value):
    """out[pos:pos + n] = the n bytes of the integer `value` (its type's width), little-endian."""
    if not (_byte_array(out) and isinstance(pos, types.Integer) and isinstance(value, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        array, index, word = args
        data = context.make_array(signature.args[0])(context, builder, array).data
        address = builder.bitcast(builder.gep(data, [index]), ir.PointerType(word.type))
        builder.store(word, address, align=1)
        return context.get_dummy_value()

    return types.void(out, pos, value), codegen


def _loader(width: int):
    result = types.uint64 if width == 64 else types.uint32

    @intrinsic
    def load(typingctx, array, pos):
        if not (_byte_array(array) and isinstance(pos, types.Integer)):
            return None

        def codegen(context, builder, signature, args):
            data = context.make_array(signature.args[0])(context, builder, args[0]).data
            address = builder.bitcast(builder.gep(data, [args[1]]), ir.PointerType(ir.IntType(width)))
            word = builder.load(address, align=1)
            return word if width == 64 else builder.zext(word, ir.IntType(32))

        return result(array, pos), codegen

    return load


load_u64 = _loader(64)  # the 8 bytes array[pos:pos + 8] as a little-endian uint64
load_u32 = _loader(32)  # the 4 bytes array[pos:pos + 4] as a little-endian uint32


@intrinsic
def float_bits(typingctx, value):
    """The IEEE bits of a float64 as a uint64."""
    if value != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.uint64(value), codegen


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
