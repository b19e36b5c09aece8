"""Proof verification off the event loop, in a bounded worker pool.

``capacity = workers + queue``: a submission first reserves a slot (non-blocking); if
none is free the handler answers ``429`` with ``Retry-After`` *before* storing anything,
so the client's retry is processed normally. Verification itself runs
:func:`zkflpq.zkbridge.verify_submission` in

- a ``ProcessPoolExecutor`` (default; spawn start method, workers pre-imported at
  start-up so the first request does not pay for imports or numba cache loading),
- a ``ThreadPoolExecutor`` (useful when the kernels release the GIL), or
- inline in a thread (tests).
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import logging
import multiprocessing
import os
import threading
import time
from typing import Any

from zkflpq import zkbridge

__all__ = ["VerificationPool"]

log = logging.getLogger("zkflpq.aggregator.verifier")

PARENT_POLL_S = 0.5


def _exit_with_parent(parent_pid: int) -> None:
    """Worker initializer: exit as soon as the aggregator process is gone (SIGKILL, OOM
    kill), instead of waiting forever on the call queue. A daemon thread polls
    ``getppid()``: an orphan is re-parented, so its parent pid changes. (Not
    ``PR_SET_PDEATHSIG``: it fires when the *thread* that started the worker exits,
    which may be any short-lived thread.) With the workers gone, multiprocessing's
    resource tracker sees the last copy of its pipe close and exits too."""

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(0)
            time.sleep(PARENT_POLL_S)

    threading.Thread(target=watch, name="zkflpq-parent-watch", daemon=True).start()


class VerificationPool:
    def __init__(self, kind: str, workers: int, queue: int, params_name: str | None = None):
        self.kind = kind
        self.workers = workers
        self.capacity = workers + queue
        self.params_name = params_name
        self.in_flight = 0
        self._executor: cf.Executor | None = None

    def start(self) -> None:
        if self.kind == "process":
            ctx = multiprocessing.get_context("spawn")
            self._executor = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                                    initializer=_exit_with_parent,
                                                    initargs=(os.getpid(),))
        else:
            n = self.workers if self.kind == "thread" else 1
            self._executor = cf.ThreadPoolExecutor(max_workers=n,
                                                   thread_name_prefix="zkflpq-verify")

    async def warm_up(self) -> None:
        """Start every worker and import the proof system there."""
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        futs = [loop.run_in_executor(self._executor, zkbridge.warm_up, self.params_name)
                for _ in range(self.workers)]
        try:
            await asyncio.gather(*futs)
        except Exception as exc:  # noqa: BLE001 - warm-up is best effort
            log.warning("verification warm-up failed", extra={"fields": {
                "exc_type": type(exc).__name__}})

    def try_acquire(self) -> bool:
        if self.in_flight >= self.capacity:
            return False
        self.in_flight += 1
        return True

    def release(self) -> None:
        self.in_flight = max(0, self.in_flight - 1)

    async def verify(self, *args: Any) -> dict[str, Any]:
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, zkbridge.verify_submission, *args)
        except cf.process.BrokenProcessPool:
            # A worker died (e.g. killed by the OOM killer): rebuild the pool once.
            log.error("verification pool broken; restarting it")
            self.shutdown()
            self.start()
            return await loop.run_in_executor(self._executor, zkbridge.verify_submission, *args)

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
