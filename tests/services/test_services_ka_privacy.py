"""Each clause of the key authority's privacy claim (proofs/key-authority-privacy.md),
attacked with real processes on loopback. Every test fails without the check it names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from svc_helpers import D, open_round, update_for

from services.aggregator.db import AcceptedRow
from services.aggregator.ka_client import KaError, KeyAuthorityClient
from zkflpq.agent import AdminClient, ClientAgent, ProtocolError
from zkflpq.bfv import encode_ciphertexts, encrypt
from zkflpq.pq import SigningKey, load_key
from zkflpq.protocol import (
    CTX_UPDATE,
    new_nonce,
    now,
    sha3,
    update_digest_from_hashes,
    update_signing_message,
)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def world(dep: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The deployment's key authority, its aggregator's identity, a second (curious)
    aggregator identity enrolled at the same key authority, and five enrolled clients."""
    cache = tmp_path_factory.mktemp("ka-cache")
    ka = KeyAuthorityClient(dep.ka.url, cache, None, 60.0)
    ka.load()
    curious_sk = SigningKey.generate()
    keys = [SigningKey.generate() for _ in range(5)]
    with dep.admin() as admin:
        admin.enrol_aggregator("aggregator-curious", curious_sk.verify_key())
        ids = [admin.enrol_client(k.verify_key())["client_id"] for k in keys]
    yield {"ka": ka, "agg": (dep.aggregator_id, load_key(dep.agg_dir / "aggregator.sig",
                                                        SigningKey)),
           "curious": ("aggregator-curious", curious_sk), "keys": keys, "ids": ids}


def signed_updates(w: dict[str, Any], round_id: int, which: list[int], *, for_agg: str,
                   k_min: int = 2, deployment: str | None = None, seed: int = 0,
                   cts: dict[int, bytes] | None = None
                   ) -> tuple[list[AcceptedRow], dict[int, np.ndarray]]:
    """Updates of clients ``which`` signed as the client agent signs them."""
    info = w["ka"].info
    k = -(-D // info.params.n)
    rng = np.random.default_rng(seed)
    rows, plain = [], {}
    for i in which:
        m = rng.integers(-500, 500, size=(k, info.params.n))
        m[-1, D - (k - 1) * info.params.n:] = 0
        ct = (cts or {}).get(i) or encode_ciphertexts(encrypt(info.bfv_pk, m))
        plain[i] = m.reshape(-1)[:D]
        proof_hash = sha3(f"proof {i} {seed}".encode())
        ts, nonce = now(), new_nonce()
        sig = w["keys"][i].sign(update_signing_message(
            w["ids"][i], round_id, update_digest_from_hashes(sha3(ct), proof_hash), ts, nonce,
            aggregator_id=for_agg, deployment=deployment or info.fingerprint, k_min=k_min),
            CTX_UPDATE)
        rows.append(AcceptedRow(round_id=round_id, client_id=w["ids"][i], idem_key="x",
                                ciphertexts=ct, proof_hash=proof_hash.hex(), timestamp=ts,
                                nonce=nonce, signature=sig, accepted_at=0.0))
    return rows, plain


def ask(w: dict[str, Any], who: str, round_id: int, rows: list[AcceptedRow],
        k_min: int = 2) -> Any:
    agg_id, sk = w[who]
    return w["ka"].decrypt(aggregator_id=agg_id, signing_key=sk, round_id=round_id, d=D,
                           k=-(-D // w["ka"].info.params.n), k_min=k_min, rows=rows)


def refusal(w: dict[str, Any], *args: Any, **kw: Any) -> KaError:
    with pytest.raises(KaError) as e:
        ask(w, *args, **kw)
    return e.value


def test_clause_1_signature_names_the_aggregator(world: dict[str, Any]) -> None:
    """The reported attack: round closed with 4 updates, then a second aggregator identity
    asks for 3 of the same 4 signed ciphertexts; the difference would be the 4th update."""
    rows, plain = signed_updates(world, 6001, [0, 1, 2, 3], for_agg=world["agg"][0])
    total, _ = ask(world, "agg", 6001, rows)
    assert np.array_equal(total, sum(plain.values()))
    e = refusal(world, "curious", 6001, rows[:3])
    assert e.status == 422 and e.reason == "bad_signature"


def test_clause_2_each_ciphertext_in_at_most_one_decryption(world: dict[str, Any]) -> None:
    """Even with signatures valid for the second identity (client 0 sent the same
    ciphertext to both aggregators), the ciphertext cannot enter a second sum."""
    rows, _ = signed_updates(world, 6002, [0, 1], for_agg=world["agg"][0])
    ask(world, "agg", 6002, rows)
    again, _ = signed_updates(world, 6002, [0, 4], for_agg=world["curious"][0], seed=1,
                              cts={0: rows[0].ciphertexts})
    e = refusal(world, "curious", 6002, again)
    assert e.status == 409 and e.reason == "ciphertext_reused"
    # the refusal burnt nothing: a sum of fresh ciphertexts for that identity still works
    fresh, plain = signed_updates(world, 6002, [3, 4], for_agg=world["curious"][0], seed=2)
    total, info = ask(world, "curious", 6002, fresh)
    assert info["n_summed"] == 2 and np.array_equal(total, sum(plain.values()))


def test_clause_3_k_min_is_what_the_clients_signed(world: dict[str, Any]) -> None:
    """Round opened with K_min = 3, only 2 updates: asking with k_min = 2 fails."""
    rows, _ = signed_updates(world, 6003, [0, 1], for_agg=world["agg"][0], k_min=3)
    e = refusal(world, "agg", 6003, rows, k_min=2)
    assert e.status == 422 and e.reason == "bad_signature"
    e = refusal(world, "agg", 6003, rows, k_min=3)
    assert e.status == 422 and e.reason == "too_few_clients"


def test_clause_3_key_authority_floor(world: dict[str, Any]) -> None:
    """Clients that signed K_min = 1 are still summed only with min_clients (2) in all."""
    rows, _ = signed_updates(world, 6004, [0], for_agg=world["agg"][0], k_min=1)
    e = refusal(world, "agg", 6004, rows, k_min=1)
    assert e.status == 422 and e.reason == "too_few_clients"


def test_clause_4_signature_names_the_deployment(world: dict[str, Any]) -> None:
    other_ka = SigningKey.generate().verify_key().fingerprint()
    rows, _ = signed_updates(world, 6005, [0, 1], for_agg=world["agg"][0], deployment=other_ka)
    e = refusal(world, "agg", 6005, rows)
    assert e.status == 422 and e.reason == "bad_signature"


def test_clause_5_one_decryption_per_aggregator_round(world: dict[str, Any]) -> None:
    """The same identity asking twice for one round: a subset, a superset, or a sum of
    fresh ciphertexts (sharing none with the first) is refused."""
    rows, _ = signed_updates(world, 6006, [0, 1, 2], for_agg=world["agg"][0])
    ask(world, "agg", 6006, rows[:2])
    fresh, _ = signed_updates(world, 6006, [3, 4], for_agg=world["agg"][0], seed=1)
    for again in (rows[1:], rows, fresh):
        e = refusal(world, "agg", 6006, again)
        assert e.status == 409 and e.reason == "already_decrypted"


def test_clause_6_update_unknown_to_key_authority_costs_only_itself(
        dep: Any, clients: Any) -> None:
    """A client enrolled at the aggregator but not at the key authority: its update is
    left out at close with a recorded reason; the honest clients' round closes."""
    cfg = open_round(dep, k_min=2, seed=7)
    rid = cfg["round_id"]
    honest = [clients.new() for _ in range(2)]
    stray_sk = SigningKey.generate()
    with AdminClient(dep.aggregator.url, None, token=dep.token) as agg_only:
        agg_only.enrol_client(stray_sk.verify_key(), "enrolled at the aggregator only")
    from zkflpq.agent import AggregatorClient, RetryPolicy

    stray = AggregatorClient(dep.aggregator.url, signing_key=stray_sk,
                             retry=RetryPolicy(attempts=2, backoff_s=0.05))
    updates = []
    for i, c in enumerate([*honest, stray]):
        u = np.random.default_rng(40 + i).normal(size=D).astype(np.float32)
        u *= 0.3 / np.linalg.norm(u)
        updates.append(u)
        assert ClientAgent(c, lambda m, cfg, u=u: u).run_round().accepted
    with dep.admin() as admin:
        closed = admin.close_round(rid)
        assert closed["state"] == "closed" and closed["n_summed"] == 2
        assert closed["excluded"] == [{"client_id": stray.client_id,
                                       "reason": "unknown_client"}]
        st = admin.status(rid)
        assert st["close"]["excluded"][0]["client_id"] == stray.client_id
        start, _ = honest[0].model(rid)
        new = admin.model(rid, "result")
        expect = start.astype(np.float64) + np.mean(updates[:2], axis=0)
        assert np.max(np.abs(new - expect)) <= 1 / cfg["scale"] + 1e-6
    for c in [*honest, stray]:
        c.close()


def test_clause_3_aggregator_and_client_hold_k_min(dep: Any, clients: Any) -> None:
    """The aggregator refuses an update signed for another K_min than the round's; a client
    refuses to sign for a round whose K_min is below its own floor."""
    cfg = open_round(dep, k_min=3, seed=8)
    c = clients.new()
    ct, proof, _ = update_for(c, cfg, seed=1)
    res = c.submit(cfg["round_id"], ct, proof, k_min=2)
    assert res.status == 422 and res.reason == "wrong_k_min"
    assert c.submit(cfg["round_id"], ct, proof).status == 202  # K_min fetched: 3
    picky = clients.new(min_k_min=4)
    ct, proof, _ = update_for(picky, cfg, seed=2)
    with pytest.raises(ProtocolError) as e:
        picky.submit(cfg["round_id"], ct, proof)
    assert e.value.reason == "k_min_too_low"
    c.close()
    picky.close()
