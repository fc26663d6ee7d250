"""``prefetch(a, i)``: a hint, inside a numba kernel, that ``a[i]`` will be read soon.

It emits LLVM's ``llvm.prefetch`` (read, high locality, data cache), which the CPU may act on
or ignore; it changes no value, only when memory is fetched.  :func:`numerics.gauss_rules.
stieltjes_runs` gathers each panel's cells run by run from the grid: every run starts in
another place of two arrays larger than the cache, and without the hint each start waits on
memory (measured on the 2048^2 benchmark, one thread: the gather took 1.26 numpy passes, 0.75
with the runs two ahead prefetched).  Called from pure Python (a kernel's reference loop) it
does nothing.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

__all__ = ["prefetch"]


def prefetch(array, index):
    """Prefetch the cache line of ``array[index]`` (a 1-d array, an integer index inside it).
    Compiled by numba into ``llvm.prefetch``; called from Python (a kernel's pure-Python
    reference), it does nothing."""
    return None


@intrinsic
def _llvm_prefetch(typingctx, array, index):
    if not (isinstance(array, types.Array) and array.ndim == 1
            and isinstance(index, types.Integer)):
        return None
    sig = types.void(array, index)

    def codegen(context, builder, signature, args):
        arr_type = signature.args[0]
        arr = context.make_array(arr_type)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, arr_type, arr, [args[1]],
                                       wraparound=False)
        byte_ptr = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = builder.module.declare_intrinsic(
            "llvm.prefetch", [byte_ptr], ir.FunctionType(ir.VoidType(),
                                                         [byte_ptr, i32, i32, i32]))
        # read (0), high temporal locality (3), data cache (1)
        builder.call(fn, [builder.bitcast(ptr, byte_ptr), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


@overload(prefetch, inline="always")
def _prefetch_in_numba(array, index):
    if isinstance(array, types.Array) and array.ndim == 1 and isinstance(index, types.Integer):
        def impl(array, index):
            _llvm_prefetch(array, index)
        return impl
    return None
