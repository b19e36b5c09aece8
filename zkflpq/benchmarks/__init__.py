"""Benchmarks run by `zkflpq bench TARGET`.

Each target module (see `zkflpq.commands.bench.BENCH_TARGETS`) exposes
`add_arguments(parser)` and `run(args) -> int`, and keeps its module-level imports
light: it is imported only when its target is run (or its help is shown).
`pin_to_one_core` and `median_time` are shared helpers for single-core timings.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

__all__ = ["machine_info", "median_time", "pin_to_cores", "pin_to_one_core"]


@contextmanager
def pin_to_cores(count: int) -> Iterator[int | None]:
    """Pin this process to its first `count` allowed CPUs for the block (all of them if
    fewer are allowed); yields the first (None: unsupported). Restored on exit."""
    getter = getattr(os, "sched_getaffinity", None)
    setter = getattr(os, "sched_setaffinity", None)
    if getter is None or setter is None:  # pragma: no cover - not Linux
        yield None
        return
    if count <= 1:
        with pin_to_one_core() as cpu:
            yield cpu
        return
    with ExitStack() as restore:
        before = getter(0)
        cpus = sorted(before)[:count]
        setter(0, set(cpus))
        restore.callback(setter, 0, before)
        yield cpus[0]


@contextmanager
def pin_to_one_core() -> Iterator[int | None]:
    """Pin this process to its first allowed CPU for the block; yields it (None: unsupported).

    Everything is restored on exit: CPU affinity, numba's thread count and the process
    environment. Our kernels are serial (no `parallel=True`), so numba's thread pool is
    normally never launched and nothing but the affinity changes. numba re-reads its
    configuration on every compilation and derives its default thread count from the
    affinity mask: if some other code already launched the pool, a compilation inside the
    block would see "1 thread" against the launched pool and raise. In that case, and only
    then, the launched size is exported as NUMBA_NUM_THREADS for the block.
    """
    getter = getattr(os, "sched_getaffinity", None)
    setter = getattr(os, "sched_setaffinity", None)
    if getter is None or setter is None:  # pragma: no cover - not Linux
        yield None
        return
    with ExitStack() as restore:
        _hold_numba_threads(restore)
        before = getter(0)
        cpu = min(before)
        setter(0, {cpu})
        restore.callback(setter, 0, before)
        yield cpu


def _hold_numba_threads(restore: ExitStack) -> None:
    """If numba's pool is running, cap it at one thread and freeze its configured size."""
    import numba
    from numba.core import config
    from numba.np.ufunc import parallel

    if not parallel._is_initialized:  # launching it here would only add threads
        return
    launched = int(config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]  # set at import
    if "NUMBA_NUM_THREADS" not in os.environ:
        os.environ["NUMBA_NUM_THREADS"] = str(launched)
        restore.callback(os.environ.pop, "NUMBA_NUM_THREADS", None)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    restore.callback(numba.set_num_threads, threads)


def median_time(fn: Callable[[], object], repeat: int, inner: int = 1) -> float:
    """Median over `repeat` samples of the mean time (s) of `inner` back-to-back calls."""
    samples = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - start) / inner)
    return statistics.median(samples)


def machine_info(cpu: int | None = None) -> dict[str, object]:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:  # pragma: no cover
        pass
    return {"cpu": model, "pinned_cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform()}
