"""Worker threads for the hot kernels: a caller-given count, bit-identical results.

The kernels release the GIL (numba `nogil`), and a split call hands each thread a
disjoint slice of the output, so results do not depend on the thread count or on the
scheduling. Anything order-sensitive (floating-point sums that decide a rejection, the
CSPRNG, the transcript) stays on the calling thread. The count is a context variable:
`with worker_threads(2): prove(...)` affects only the calling thread's work (the
thread-pool workers themselves see 1, so splits never nest).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

__all__ = ["MAX_THREADS", "run_split", "thread_count", "worker_threads"]

MAX_THREADS = 64
_THREADS: contextvars.ContextVar[int] = contextvars.ContextVar("zkflpq_threads", default=1)
_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_LOCK = threading.Lock()


@contextmanager
def worker_threads(count: int) -> Iterator[None]:
    """Run the enclosed ring work on `count` threads (1..64)."""
    if not isinstance(count, int) or not 1 <= count <= MAX_THREADS:
        raise ValueError(f"thread count must be an integer in [1, {MAX_THREADS}]")
    token = _THREADS.set(count)
    try:
        yield
    finally:
        _THREADS.reset(token)


def thread_count() -> int:
    return _THREADS.get()


def _pool(workers: int) -> ThreadPoolExecutor:
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        if _POOL is None or _POOL_SIZE < workers:
            old = _POOL
            _POOL, _POOL_SIZE = ThreadPoolExecutor(workers, "zkflpq-ring"), workers
            if old is not None:
                old.shutdown(wait=False)
        return _POOL


def run_split(fn: Callable[[int, int], object], total: int, minimum: int = 1) -> None:
    """Call fn(lo, hi) on disjoint ranges covering [0, total): one range per thread (at
    least `minimum` items each), the first on the calling thread."""
    threads = min(thread_count(), max(1, total // max(1, minimum)))
    if threads <= 1:
        fn(0, total)
        return
    cuts = [total * i // threads for i in range(threads + 1)]
    pool = _pool(threads - 1)
    futures = [pool.submit(fn, cuts[i], cuts[i + 1]) for i in range(1, threads)]
    fn(cuts[0], cuts[1])
    for f in futures:
        f.result()
