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
from contextlib import contextmanager

__all__ = ["machine_info", "median_time", "pin_to_one_core"]


@contextmanager
def pin_to_one_core() -> Iterator[int | None]:
    """Pin this process to its first allowed CPU (restored afterwards); yields the CPU."""
    os.environ["NUMBA_NUM_THREADS"] = "1"  # only read if numba is not imported yet
    try:
        import numba

        numba.set_num_threads(1)
    except Exception:  # pragma: no cover - threading layer unavailable: kernels are serial
        pass
    getter = getattr(os, "sched_getaffinity", None)
    setter = getattr(os, "sched_setaffinity", None)
    if getter is None or setter is None:  # pragma: no cover - not Linux
        yield None
        return
    before = getter(0)
    cpu = min(before)
    setter(0, {cpu})
    try:
        yield cpu
    finally:
        setter(0, before)


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
