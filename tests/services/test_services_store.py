"""The aggregator's storage invariants, on SQLite and (when ZKFLPQ_TEST_POSTGRES_URL is
set, as .ci/run does) on PostgreSQL: uniqueness of (round, client), idempotency keys,
nonces, one open round, no accept into a closing round — enforced by the database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from svc_helpers import fresh_postgres_database, postgres_url

from services.aggregator.db import Store

BACKENDS = ["sqlite", pytest.param("postgres", marks=[
    pytest.mark.postgres,
    pytest.mark.skipif(postgres_url() is None, reason="ZKFLPQ_TEST_POSTGRES_URL not set")])]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'agg.sqlite3'}"
    else:
        url, drop = fresh_postgres_database(postgres_url() or "")
    s = Store(url)
    s.create_all()
    yield s
    s.dispose()
    if drop is not None:
        drop()


def _round(store: Store) -> Any:
    return store.open_round(params_name="p", tau=1.0, scale=1024.0, bound=1024, d=10, k=1,
                            layout="", k_min=2, deadline=None, model=b"\0" * 40,
                            model_digest="0" * 64)


def _claim(store: Store, idem: str, rid: int, client: str = "c1", nonce: str = "n1",
           instance: str = "i1") -> Any:
    return store.claim(idem_key=idem, digest="d" * 64, round_id=rid, client_id=client,
                       nonce=nonce, ct_bytes=1, proof_bytes=1, instance_id=instance)


def _accept(store: Store, idem: str, rid: int, client: str = "c1") -> dict[str, Any]:
    return store.accept(idem, round_id=rid, client_id=client, ciphertexts=b"ct",
                        proof_hash="p" * 64, timestamp=1, nonce="n", signature=b"s",
                        verify_ms=1.0, total_ms=2.0)


def test_enrolment(store: Store) -> None:
    assert store.enrol_client("c1", b"k1", "f", "l") is True
    assert store.enrol_client("c1", b"k1", "f", "l") is False
    with pytest.raises(ValueError):
        store.enrol_client("c1", b"other", "f", "l")
    assert store.client_key("c1") == b"k1" and store.client_key("nope") is None


def test_one_open_round(store: Store) -> None:
    r1 = _round(store)
    with pytest.raises(ValueError, match="round_open"):
        _round(store)
    assert store.current_round().id == r1.id
    store.begin_close(r1.id)
    store.finish_round(r1.id, state="closed", result_model=b"\1" * 40, result_digest="x")
    r2 = _round(store)
    assert r2.id == r1.id + 1
    assert store.latest_model() is not None


def test_claim_idempotency_and_nonces(store: Store) -> None:
    rid = _round(store).id
    assert _claim(store, "a" * 64, rid).outcome == "claimed"
    again = _claim(store, "a" * 64, rid)
    assert again.outcome == "exists" and again.existing["status"] == "pending"
    assert _claim(store, "b" * 64, rid, nonce="n1").outcome == "replay"
    assert _accept(store, "a" * 64, rid)["status"] == "accepted"
    assert store.get_submission("a" * 64)["http_status"] == 202
    assert store.use_nonce("c1", "g1") is True and store.use_nonce("c1", "g1") is False


def test_round_client_unique_and_closing(store: Store) -> None:
    rid = _round(store).id
    _claim(store, "a" * 64, rid, nonce="1")
    _claim(store, "b" * 64, rid, nonce="2")
    assert _accept(store, "a" * 64, rid)["status"] == "accepted"
    dup = _accept(store, "b" * 64, rid)
    assert dup["status"] == "rejected" and dup["reason"] == "duplicate"
    assert dup["http_status"] == 409
    assert store.get_round(rid).n_accepted == 1
    # closing: nothing more is accepted into the round
    _claim(store, "c" * 64, rid, client="c2", nonce="3")
    store.begin_close(rid)
    late = _accept(store, "c" * 64, rid, client="c2")
    assert late["status"] == "rejected" and late["reason"] == "round_closed"
    counts = store.round_counts(rid)
    assert counts["accepted"] == 1 and counts["rejected"] == {"duplicate": 1,
                                                              "round_closed": 1}
    assert [r.client_id for r in store.iter_accepted(rid)] == ["c1"]


def test_concurrent_accepts_of_one_client_one_wins(store: Store) -> None:
    rid = _round(store).id
    keys = [f"{i:064x}" for i in range(8)]
    for i, k in enumerate(keys):
        assert _claim(store, k, rid, nonce=str(i)).outcome == "claimed"
    results: list[str] = []
    barrier = threading.Barrier(len(keys))

    def go(k: str) -> None:
        barrier.wait()
        results.append(_accept(store, k, rid)["status"])

    threads = [threading.Thread(target=go, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["accepted"] + ["rejected"] * 7
    assert store.get_round(rid).n_accepted == 1


def test_cleanup_and_takeover(store: Store) -> None:
    rid = _round(store).id
    _claim(store, "a" * 64, rid, nonce="1", instance="mine")
    _claim(store, "b" * 64, rid, client="c2", nonce="2", instance="other")
    assert store.cleanup_instance("mine") == 1
    assert store.get_submission("a" * 64) is None
    assert store.get_submission("b" * 64)["status"] == "pending"
    assert store.takeover("b" * 64, older_than=0.0, instance_id="mine") is False
    import time

    assert store.takeover("b" * 64, older_than=time.time() + 1, instance_id="mine") is True
    # a retry after cleanup re-claims with the same nonce (it belongs to the same update)
    assert _claim(store, "a" * 64, rid, nonce="1", instance="mine").outcome == "claimed"


def test_nonce_pruning(store: Store) -> None:
    import time

    assert store.use_nonce("c1", "x") is True
    assert store.prune_nonces(time.time() - 3600) == 0
    assert store.use_nonce("c1", "x") is False
    assert store.prune_nonces(time.time() + 1) >= 1
    assert store.use_nonce("c1", "x") is True
