"""Worker threads: proofs and verdicts are bit-identical for every thread count."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from zkflpq.ring import Csprng, worker_threads
from zkflpq.ring.threads import run_split, thread_count
from zkflpq.zk import protocol as proto
from zkflpq.zk import prove, verify


@pytest.mark.parametrize("name", ["n64", "n256", "default"])
def test_proofs_are_identical_for_one_two_and_three_threads(cases, name):
    case = cases(name)
    key = bytes(range(32))
    data = {t: prove(case.statement, case.m, case.rand, Csprng(key), threads=t).to_bytes()
            for t in (1, 2, 3)}
    assert data[1] == data[2] == data[3]
    for t in (1, 2):
        assert verify(case.statement, data[1], threads=t)


def test_work_really_is_split_across_threads(cases, monkeypatch):
    """With threads = 2 the kernels run on two distinct OS threads (not just accepted)."""
    case = cases("n256")
    seen: set[int] = set()
    original = proto.jl_project

    def spy(*args, **kw):
        import zkflpq.zk.jl as jl

        inner = jl._project_block

        def block(*a):
            seen.add(threading.get_ident())
            return inner(*a)

        monkeypatch.setattr(jl, "_project_block", block)
        try:
            return original(*args, **kw)
        finally:
            monkeypatch.setattr(jl, "_project_block", inner)

    monkeypatch.setattr(proto, "jl_project", spy)
    prove(case.statement, case.m, case.rand, threads=2)
    assert len(seen) >= 2  # the calling thread and at least one pool worker


def test_a_rejected_proof_is_rejected_for_every_thread_count(n64):
    bad = bytearray(n64.data)
    bad[-1] ^= 1
    assert {verify(n64.statement, bytes(bad), threads=t).reason for t in (1, 2, 4)} == {
        verify(n64.statement, bytes(bad)).reason}


def test_run_split_covers_the_range_exactly_once():
    for threads in (1, 2, 3, 7):
        for total in (0, 1, 5, 64, 1000):
            hits = np.zeros(total, dtype=np.int64)

            def mark(lo, hi, hits=hits):
                hits[lo:hi] += 1

            with worker_threads(threads):
                run_split(mark, total)
            assert (hits == 1).all()


def test_worker_threads_validates_and_restores():
    assert thread_count() == 1
    with worker_threads(3):
        assert thread_count() == 3
    assert thread_count() == 1
    for bad in (0, -1, 65, 2.0, "2"):
        with pytest.raises(ValueError):
            with worker_threads(bad):  # type: ignore[arg-type]
                pass
    with pytest.raises(ValueError):
        prove(None, None, None, threads=0)  # type: ignore[arg-type]


def test_seeded_stream_from_an_offset_is_the_same_stream():
    full = Csprng.from_seed(b"seed", b"label").random_bytes(4096)
    for offset in (0, 16, 1024, 4080):
        assert Csprng.from_seed(b"seed", b"label", offset).random_bytes(4096 - offset) == \
            full[offset:]
    for bad in (-16, 8):
        with pytest.raises(ValueError):
            Csprng.from_seed(b"seed", b"label", bad)
