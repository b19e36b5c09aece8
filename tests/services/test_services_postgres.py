"""Scale-out: two aggregator processes share one PostgreSQL (and one key set). The
database's UNIQUE(round, client) means a client racing two different updates to the two
processes gets exactly one accepted; an identical update raced to both is verified once.
Runs when ZKFLPQ_TEST_POSTGRES_URL is set (.ci/run starts a PostgreSQL and sets it)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from svc_helpers import (
    Clients,
    fresh_postgres_database,
    open_round,
    postgres_url,
    start_deployment,
    update_for,
)

from zkflpq.agent import RetryPolicy
from zkflpq.protocol import now

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.timeout(300),
    pytest.mark.skipif(postgres_url() is None, reason="ZKFLPQ_TEST_POSTGRES_URL not set"),
]


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    url, drop = fresh_postgres_database(postgres_url() or "")
    dep = start_deployment(tmp_path_factory.mktemp("pg"), database_url=url, verify_workers=1,
                           verify_queue=8, verify_executor="thread")
    try:
        dep.start_aggregator(instance_id="second")
        yield dep
    finally:
        dep.stop()
        drop()


def race(*fns: Any) -> list[Any]:
    out: list[Any] = [None] * len(fns)
    barrier = threading.Barrier(len(fns))

    def run(i: int) -> None:
        barrier.wait()
        out[i] = fns[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_two_aggregators_never_double_accept(pg: Any) -> None:
    cfg = open_round(pg, k_min=2, seed=1)
    rid = cfg["round_id"]
    clients = Clients(pg)
    retry = RetryPolicy(attempts=6, backoff_s=0.1)
    statuses = []
    for i in range(4):
        c0 = clients.new(0, retry=retry)
        c1 = clients.new(1, retry=retry)
        c1.signing_key, c1.client_id = c0.signing_key, c0.client_id  # same client, 2 doors
        ct_a, proof_a, _ = update_for(c0, cfg, seed=10 * i)
        ct_b, proof_b, _ = update_for(c1, cfg, seed=10 * i + 1)
        r0, r1 = race(lambda c0=c0, ct=ct_a, p=proof_a: c0.submit(rid, ct, p),
                      lambda c1=c1, ct=ct_b, p=proof_b: c1.submit(rid, ct, p))
        statuses.append(sorted([r0.status, r1.status]))
        c0.close()
        c1.close()
    assert statuses == [[202, 409]] * 4
    for agg in (0, 1):
        with pg.admin(agg) as admin:
            st = admin.status(rid)
            assert st["accepted"] == 4 and st["rejected"] == {"duplicate": 4}


def test_identical_update_raced_to_both_is_verified_once(pg: Any) -> None:
    cfg = open_round(pg, k_min=2, seed=2)
    rid = cfg["round_id"]
    clients = Clients(pg)
    accepted = []
    for i in range(3):
        c0 = clients.new(0)
        c1 = clients.new(1)
        c1.signing_key, c1.client_id = c0.signing_key, c0.client_id
        ct, proof, u = update_for(c0, cfg, seed=i)
        ts = now()
        env = c0.signed_update(rid, ct, proof, timestamp=ts)
        r0, r1 = race(lambda c0=c0, env=env, ts=ts: c0.submit_envelope(rid, env, ts),
                      lambda c1=c1, env=env, ts=ts: c1.submit_envelope(rid, env, ts))
        assert r0.status == 202 and r1.status == 202
        assert sorted([r0.meta["replayed"], r1.meta["replayed"]]) == [False, True]
        accepted.append(u)
        c0.close()
        c1.close()
    # close through the *other* process: it sees every update, wherever it was accepted
    with pg.admin(1) as admin:
        closed = admin.close_round(rid)
        assert closed["state"] == "closed" and closed["n_summed"] == 3
        new = admin.model(rid)
        start = admin.model(rid, "start")
    assert np.max(np.abs(new - (start + np.mean(accepted, axis=0)))) <= 1 / cfg["scale"] + 1e-6
    with pg.admin(0) as admin:
        assert admin.status(rid)["state"] == "closed"
