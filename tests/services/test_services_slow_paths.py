"""Back-pressure and crash paths, made deterministic with the aggregator's fault-injection
setting ZKFLPQ_VERIFY_DELAY_S (every verification holds its worker slot ≥ 1.5 s):
429 when the queue is full, a resubmission while the original is still verifying, and a
SIGKILL during verification (the unacknowledged update is simply processed again).
This deployment seals with ML-KEM-768 alone (the X-Wing default is used elsewhere)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from svc_helpers import Clients, open_round, start_deployment, update_for

from zkflpq.agent import RetryPolicy
from zkflpq.protocol import now

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # also the ML-KEM-768 (instead of X-Wing) configuration, end to end
    dep = start_deployment(tmp_path_factory.mktemp("slow"), verify_executor="thread",
                           verify_workers=1, verify_queue=0, kem="mlkem768",
                           extra_env={"ZKFLPQ_VERIFY_DELAY_S": "1.5"})
    yield dep
    dep.stop()


def metric(dep: Any, name: str) -> float:
    for line in httpx.get(f"{dep.aggregator.url}/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def in_flight(dep: Any) -> float:
    return metric(dep, "zkflpq_verify_in_flight")


def wait_busy(dep: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while in_flight(dep) < 1:
        assert time.monotonic() < deadline, "verification never started"
        time.sleep(0.02)


def background(fn: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    return t, out


def test_queue_full_gets_429_and_the_retry_is_processed(slow: Any) -> None:
    cfg = open_round(slow, seed=1)
    rid = cfg["round_id"]
    clients = Clients(slow)
    a, b = clients.new(), clients.new(retry=RetryPolicy(attempts=1))
    assert a.params().kem_pk.algorithm.name == "MLKEM768"
    ct_a, proof_a, _ = update_for(a, cfg, seed=1)
    ct_b, proof_b, _ = update_for(b, cfg, seed=2)
    t, res_a = background(lambda: a.submit(rid, ct_a, proof_a))
    wait_busy(slow)
    res_b = b.submit(rid, ct_b, proof_b)
    assert res_b.status == 429 and res_b.reason == "queue_full"
    # nothing was stored for the refused update: with retries it goes through
    b.retry = RetryPolicy(attempts=10, backoff_s=0.2)
    res_b2 = b.submit(rid, ct_b, proof_b)
    t.join()
    assert res_a[0].status == 202
    assert res_b2.status == 202 and res_b2.meta["replayed"] is False
    with slow.admin() as admin:
        st = admin.status(rid)
    assert st["accepted"] == 2 and st["rejected"] == {}
    assert metric(slow, "zkflpq_queue_full_total") >= 1


def test_resubmission_while_original_is_verifying_waits_for_it(slow: Any) -> None:
    cfg = open_round(slow, seed=2)
    rid = cfg["round_id"]
    c = Clients(slow).new(retry=RetryPolicy(attempts=1))
    ct, proof, _ = update_for(c, cfg, seed=1)
    ts = now()
    env = c.signed_update(rid, ct, proof, timestamp=ts)
    t, first = background(lambda: c.submit_envelope(rid, env, ts))
    wait_busy(slow)
    again = c.submit_envelope(rid, env, ts)  # the "retry after a timeout"
    t.join()
    assert first[0].status == 202 and first[0].meta["replayed"] is False
    assert again.status == 202 and again.meta["replayed"] is True
    assert again.meta["submission"] == first[0].meta["submission"]


def test_sigkill_during_verification_then_retry(slow: Any) -> None:
    cfg = open_round(slow, seed=3)
    rid = cfg["round_id"]
    c = Clients(slow).new(retry=RetryPolicy(attempts=12, backoff_s=0.3, max_backoff_s=3.0),
                          timeout=30.0)
    ct, proof, _ = update_for(c, cfg, seed=1)
    t, res = background(lambda: c.submit(rid, ct, proof))
    wait_busy(slow)
    slow.restart_aggregator(kill=True)  # never acknowledged: the client keeps retrying
    t.join()
    assert res[0].status == 202 and res[0].attempts >= 2
    with slow.admin() as admin:
        st = admin.status(rid)
    assert st["accepted"] == 1 and st["pending"] == 0
