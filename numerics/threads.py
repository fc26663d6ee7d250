"""Serial and parallel twins of a numba kernel, chosen by the size of the work (DESIGN.md,
"Threads").

A ``parallel=True`` kernel wakes numba's worker threads at every call.  On a quiet machine
that costs tens of microseconds; on a small shared machine whose cores are busy with other
work it costs milliseconds per call (a worker waits for a core), so a small problem made of
many short kernel calls ran 10-200x slower with the default threads than with one.  Each
kernel is therefore compiled twice from the same Python function, once serial (``prange`` is
then ``range``) and once parallel, and a call site picks with :meth:`Kernel.at` from its
amount of work: parallel only above :data:`PARALLEL_MIN_WORK` elementary operations and when
numba may use more than one thread (``NUMBA_NUM_THREADS``, :func:`numba.set_num_threads`).
The serial twin runs without the GIL, so that :func:`in_halves` can run it on two halves of
the cells side by side with numpy's loops (the materializations: each half block by block,
the kernel, numpy's ``exp`` and product on a block while it is in cache).
"""

from __future__ import annotations

import functools
import os
import threading
import types

#: numba's OpenMP threads wait for work asleep, not spinning (unless the caller chose a policy
#: before importing numerics).  Spinning workers take the cores that the calling thread and
#: other jobs need: measured with one busy process on the second core, ``evolve`` on the
#: 2048^2 benchmark took 11.2-12.4 numpy passes with spinning workers and 9.9-10.5 with
#: sleeping ones (one thread: 10.7); ``bench_threads.py`` with two busy processes, default
#: threads against one thread: 1.94 -> 1.01 for the small problem (whose serial kernels
#: shared the core with the workers left spinning by earlier parallel calls), 1.60 -> 1.42 for
#: the 1024^2 grid.  On a quiet machine the two policies measured the same (the engine's
#: parallel regions are few and long).  libgomp reads it when numba first loads it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402
from threadpoolctl import ThreadpoolController  # noqa: E402

__all__ = ["Kernel", "kernel", "PARALLEL_MIN_WORK", "parallel_pays", "serial_blas",
           "in_halves"]

#: elementary operations (cells, or points x nodes) below which a kernel runs on the calling
#: thread.  Measured with ``benchmarks/bench_threads.py`` on 2 cores: above ~1e6 operations
#: (about a millisecond of work) the parallel twin is faster on a quiet machine, and with the
#: other core busy it is no slower than the serial one.
PARALLEL_MIN_WORK = 1 << 20


def parallel_pays(work: int) -> bool:
    """Whether ``work`` elementary operations are worth waking numba's threads for."""
    return work >= PARALLEL_MIN_WORK and numba.get_num_threads() > 1


class Kernel:
    """A numba kernel compiled as a serial and a parallel twin (both cached on disk).

    ``kernel.serial`` and ``kernel.parallel`` are the two dispatchers; ``kernel.py_func`` is
    the Python function (its loops are the pure-Python reference); ``kernel.at(work)`` picks
    one for a call of ``work`` elementary operations.
    """

    def __init__(self, fn):
        self.py_func = fn
        self.parallel = numba.njit(cache=True, parallel=True)(fn)
        # without the GIL: Python threads may run the serial twin side by side (in_halves)
        self.serial = numba.njit(cache=True, nogil=True)(_renamed(fn, "_serial"))
        functools.update_wrapper(self, fn)

    def at(self, work: int):
        """The twin to use for ``work`` elementary operations (see :func:`parallel_pays`)."""
        return self.parallel if parallel_pays(work) else self.serial

    def __call__(self, *args):
        """Run the serial twin (the safe default for a call of unknown size)."""
        return self.serial(*args)


def in_halves(fn, n):
    """``[fn(0, n // 2), fn(n // 2, n)]``, the first half on a helper thread where numba may
    use more than one thread and ``n`` is large (:func:`parallel_pays`); else ``[fn(0, n)]``.
    For passes over the cells made of numpy's loops (which release the GIL) and serial
    kernels (compiled without it): the materializations' ``exp``, products and sums, block by
    block while the block is in cache."""
    if not parallel_pays(n):
        return [fn(0, n)]
    h = n // 2
    got = [None, None]

    def first():
        try:
            got[0] = fn(0, h)
        except BaseException as e:   # re-raised by the caller's thread
            got[1] = e

    helper = threading.Thread(target=first, name="numerics-half")
    helper.start()
    try:
        second = fn(h, n)
    finally:
        helper.join()
    if got[1] is not None:
        raise got[1]
    return [got[0], second]


def kernel(fn) -> Kernel:
    """Decorator: compile ``fn`` (which may use ``numba.prange``) as a :class:`Kernel`."""
    return Kernel(fn)


def _renamed(fn, suffix):
    """A copy of ``fn`` under another qualified name (numba's disk cache is keyed by it)."""
    g = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix, fn.__defaults__,
                           fn.__closure__)
    g.__qualname__ = fn.__qualname__ + suffix
    g.__module__ = fn.__module__
    g.__doc__ = fn.__doc__
    return g


# numba's ``np.dot`` calls the BLAS of scipy (``scipy.linalg.cython_blas``), a second
# OpenBLAS beside numpy's: load it first, so that the controller limits both (measured: the
# per-box products of numerics.pair_kernels ran 6-15x slower on a busy 2-core machine when
# that OpenBLAS kept its 2 threads)
import scipy.linalg.cython_blas  # noqa: E402,F401

_BLAS = ThreadpoolController()


def serial_blas(fn):
    """Decorator: run ``fn`` with BLAS/LAPACK on one thread (threadpoolctl).

    The engine's linear algebra is small (Golub-Welsch on 16 x 16 matrices, Newton systems of
    a few hundred unknowns).  OpenBLAS's threads make it slower, not faster, on a small shared
    machine: synchronising the threads costs more than the work, most of all when the other
    core is busy."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _BLAS.limit(limits=1, user_api="blas"):
            return fn(*args, **kwargs)
    return wrapper
