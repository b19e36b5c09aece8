"""`pin_to_one_core` must leave nothing behind that breaks a later numba compilation.

Each case runs in a fresh interpreter: numba's thread pool and configuration are
process-global, so running them in the pytest worker would leak into other tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

_SCRIPT = textwrap.dedent(
    """
    import os, sys
    import numba
    from zkflpq.benchmarks import pin_to_one_core

    if sys.argv[1] == "pool-launched":
        numba.get_num_threads()          # launches numba's thread pool
    env_before = dict(os.environ)
    affinity_before = os.sched_getaffinity(0)
    threads_before = numba.get_num_threads() if sys.argv[1] == "pool-launched" else None

    @numba.njit(cache=False)
    def inside(x):
        return x + 1

    @numba.njit(cache=False)
    def after(x):
        return x * 3

    with pin_to_one_core() as cpu:
        assert os.sched_getaffinity(0) == {cpu}, os.sched_getaffinity(0)
        assert inside(1) == 2            # a compilation inside the block
        if threads_before is not None:
            assert numba.get_num_threads() == 1
    assert after(2) == 6                 # and one after it
    assert dict(os.environ) == env_before
    assert os.sched_getaffinity(0) == affinity_before
    if threads_before is not None:
        assert numba.get_num_threads() == threads_before
    print("ok")
    """
)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs Linux affinity")
@pytest.mark.parametrize("state", ["pool-idle", "pool-launched"])
def test_compilation_inside_and_after_pinning_works(state: str, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    env["NUMBA_CACHE_DIR"] = str(tmp_path)  # cold cache, as on a fresh clone
    done = subprocess.run([sys.executable, "-c", _SCRIPT, state], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
