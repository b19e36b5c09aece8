"""The federation pipelines used by the experiments: honest submissions pass, the
attacker's forged proof, swapped proofs and tampered envelopes are rejected by the
server's own checks, and the homomorphic aggregate decodes to the FedAvg mean."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.pipelines import MlKemPipeline, ZkflPqPipeline, _pack, _seal_context, _unpack
from zkflpq.bfv import INSECURE_N256, encode_ciphertexts
from zkflpq.fl.simulation import SubmissionInfo

D = 700  # three chunks at N = 256
TAU = 5.0


def _info(k: int, r: int = 0) -> SubmissionInfo:
    return SubmissionInfo(k, r, 10, np.zeros(D, np.float32), TAU)


def _update(seed: int, norm: float) -> np.ndarray:
    u = np.random.default_rng(seed).normal(size=D)
    return (u * norm / np.linalg.norm(u)).astype(np.float32)


@pytest.fixture(scope="module")
def pipe():
    attackers = {(2, 0), (2, 1)}
    return ZkflPqPipeline(INSECURE_N256, TAU, is_attacker=lambda k, r: (k, r) in attackers,
                          seed=b"test-pipeline")


def test_honest_accepted_and_aggregate_is_mean(pipe):
    ups = [_update(i, 0.5 + i) for i in range(2)]
    subs = [pipe.client_update_fn(u, _info(k)) for k, u in enumerate(ups)]
    decisions = [pipe.defence(s, _info(k)) for k, s in enumerate(subs)]
    assert all(d.accepted for d in decisions), decisions
    new = pipe.aggregate_fn(np.zeros(D, np.float32), subs, [_info(0), _info(1)])
    expected = np.mean(np.stack(ups).astype(np.float64), axis=0)
    assert np.max(np.abs(new - expected)) < 2.0 / pipe.scale
    m = pipe.messages[-1]
    assert m["encrypted_params"] == D and m["proven_params"] == D and m["chunks"] == 3
    assert m["plaintext_params_sent"] == 0


def test_oversized_attacker_is_rejected_by_the_verifier(pipe):
    big = _update(7, 1000.0)
    sub = pipe.client_update_fn(big, _info(2))
    assert pipe.messages[-1]["forged"] is True
    d = pipe.defence(sub, _info(2))
    assert not d.accepted
    assert d.reason.startswith("proof:")
    assert pipe._inbox.get((0, 2)) is None


def test_attacker_within_the_bound_passes(pipe):
    """A norm bound cannot stop an update that satisfies it."""
    sub = pipe.client_update_fn(_update(8, 0.99 * TAU), _info(2, r=1))
    assert pipe.messages[-1]["forged"] is False
    assert pipe.defence(sub, _info(2, r=1)).accepted
    pipe._inbox.clear()


def test_proof_swapped_between_clients_is_rejected(pipe):
    from zkflpq.pq import open_sealed, seal

    s0 = pipe.client_update_fn(_update(3, 1.0), _info(0, r=5))
    s1 = pipe.client_update_fn(_update(4, 1.0), _info(1, r=5))
    b0, _ = open_sealed(pipe._kem_sk, s0, _seal_context(5, 0))
    b1, _ = open_sealed(pipe._kem_sk, s1, _seal_context(5, 1))
    ct1, _ = _unpack(b1, 2)
    _, pf0 = _unpack(b0, 2)
    forged, _ = seal(pipe._kem_pk, _pack(ct1, pf0), _seal_context(5, 1))
    d = pipe.defence(forged, _info(1, r=5))
    assert not d.accepted and d.reason.startswith("proof:")
    # the same message presented for another round or client fails at the envelope
    d2 = pipe.defence(s0, _info(0, r=6))
    assert not d2.accepted and d2.reason.startswith("envelope:")
    pipe._inbox.clear()


def test_tampered_envelope_and_garbage_rejected(pipe):
    sub = bytearray(pipe.client_update_fn(_update(5, 1.0), _info(0, r=7)))
    sub[-5] ^= 1
    d = pipe.defence(bytes(sub), _info(0, r=7))
    assert not d.accepted and d.reason.startswith("envelope:")
    from zkflpq.pq import seal

    junk, _ = seal(pipe._kem_pk, _pack(b"not a ciphertext", b"nor a proof"), _seal_context(7, 1))
    d = pipe.defence(junk, _info(1, r=7))
    assert not d.accepted and d.reason.startswith("decode:")


def test_wrong_chunk_count_rejected(pipe):
    from zkflpq.bfv import encrypt
    from zkflpq.pq import seal

    ct = encrypt(pipe.bfv_pk, np.zeros((1, INSECURE_N256.n), np.int64))
    body = _pack(encode_ciphertexts(ct), b"")
    sealed, _ = seal(pipe._kem_pk, body, _seal_context(8, 0))
    d = pipe.defence(sealed, _info(0, r=8))
    assert not d.accepted and d.reason.startswith("decode:")


def test_mlkem_pipeline_round_trip():
    p = MlKemPipeline()
    u = _update(1, 3.0)
    s = p.client_update_fn(u, _info(0))
    assert isinstance(s, bytes) and len(s) > 4 * D
    assert p.defence(s, _info(0)).accepted
    out = p.aggregate_fn(np.zeros(D, np.float32), [s], [_info(0)])
    assert np.array_equal(out, u)
    assert not p.defence(s, _info(1)).accepted  # context binds the client id


def test_bounded_attack_scales_to_the_bound():
    from experiments.federation import make_attack_spec
    from zkflpq.fl.attacks import AttackContext

    a = make_attack_spec("bounded:gaussian", {"std": 50.0})
    u = a.poison_update(np.zeros(5000, np.float32),
                        AttackContext(tau=TAU, rng=np.random.default_rng(0)))
    assert 0.99 * TAU < np.linalg.norm(u.astype(np.float64)) <= TAU


def test_budget_mode_proves_attackers_only():
    """proofs="attackers": honest ciphertexts are aggregated unproven, attackers still go
    through the real prove/forge + verify path and oversized ones are rejected."""
    p = ZkflPqPipeline(INSECURE_N256, TAU, is_attacker=lambda k, r: k == 1, proofs="attackers",
                       seed=b"budget")
    honest = _update(1, 1.0)
    s0 = p.client_update_fn(honest, _info(0))
    assert p.messages[-1]["proof_skipped"] and p.messages[-1]["proof_bytes"] == 0
    s1 = p.client_update_fn(_update(2, 500.0), _info(1))
    assert p.messages[-1]["forged"] and p.messages[-1]["proof_bytes"] > 0
    assert p.defence(s0, _info(0)).accepted
    d1 = p.defence(s1, _info(1))
    assert not d1.accepted and d1.reason.startswith("proof:")
    # an unproven message is accepted only for the honest client it was made for
    s2 = p.client_update_fn(honest, _info(0, r=1))
    assert not p.defence(s2, _info(0, r=2)).accepted
    out = p.aggregate_fn(np.zeros(D, np.float32), [s0], [_info(0)])
    assert np.max(np.abs(out - honest)) < 1.0 / p.scale


D_PAPER = 3 * 256 + 40  # head (256, proven), mid (256, encrypted), tail (296, plaintext)


def _paper_info(k: int, r: int = 0, tau: float = TAU) -> SubmissionInfo:
    return SubmissionInfo(k, r, 10, np.zeros(D_PAPER, np.float32), tau)


@pytest.fixture(scope="module")
def paper_pipe():
    return ZkflPqPipeline(INSECURE_N256, TAU, scope="paper", seed=b"test-paper-scope",
                          is_attacker=lambda k, r: k == 2)


def test_paper_scope_protects_exactly_the_papers_prefix(paper_pipe):
    rng = np.random.default_rng(1)
    ups = [(rng.normal(size=D_PAPER) * 0.01).astype(np.float32) for _ in range(2)]
    subs = [paper_pipe.client_update_fn(u, _paper_info(k)) for k, u in enumerate(ups)]
    m = paper_pipe.messages[-1]
    assert (m["encrypted_params"], m["proven_params"], m["plaintext_params_sent"]) == (
        512, 256, D_PAPER - 512)
    assert all(paper_pipe.defence(s, _paper_info(k)).accepted for k, s in enumerate(subs))
    new = paper_pipe.aggregate_fn(np.zeros(D_PAPER, np.float32), subs,
                                  [_paper_info(0), _paper_info(1)])
    mean = np.mean(np.stack(ups).astype(np.float64), axis=0)
    # encrypted coordinates to quantisation precision, the plaintext rest exactly (float32)
    assert np.max(np.abs(new[:512] - mean[:512])) < 2.0 / paper_pipe.scale
    assert np.max(np.abs(new[512:] - mean[512:])) < 1e-6


def test_paper_scope_rejects_an_oversized_head_but_not_a_poisoned_tail(paper_pipe):
    big_head = np.zeros(D_PAPER, np.float32)
    big_head[:256] = 100.0
    d = paper_pipe.defence(paper_pipe.client_update_fn(big_head, _paper_info(2, r=1)),
                           _paper_info(2, r=1))
    assert not d.accepted and d.reason.startswith("proof:")
    # the paper's gap: only the first 256 coordinates are checked
    big_tail = np.zeros(D_PAPER, np.float32)
    big_tail[600:] = 1e4
    d = paper_pipe.defence(paper_pipe.client_update_fn(big_tail, _paper_info(2, r=2)),
                           _paper_info(2, r=2))
    assert d.accepted


def test_round_tau_sets_the_servers_bound():
    """An attacker's update of norm 1 is provable at the round's τ = 2 and forged (then
    rejected) at τ = 0.5: the statement's bound is the round's, not the initial τ = 5."""
    pipe = ZkflPqPipeline(INSECURE_N256, TAU, is_attacker=lambda k, r: True,
                          seed=b"test-round-tau")
    u = _update(11, 1.0)
    at_2 = SubmissionInfo(2, 5, 10, np.zeros(D, np.float32), 2.0)
    assert pipe.defence(pipe.client_update_fn(u, at_2), at_2).accepted
    at_half = SubmissionInfo(2, 6, 10, np.zeros(D, np.float32), 0.5)
    sub = pipe.client_update_fn(u, at_half)
    assert pipe.messages[-1]["forged"] is True
    assert not pipe.defence(sub, at_half).accepted


def test_attack_outcome_classification():
    from experiments.attack_matrix import NEUTRAL_ACCURACY_POINTS, outcome

    def cell(rejected, acc, backdoor=None, submitted=7):
        return {"malicious_submissions": submitted, "malicious_rejected": rejected,
                "final_accuracy": acc, "final_backdoor_success": backdoor}

    assert outcome(cell(7, 0.2), 1.0) == "stopped"  # all rejected, whatever the accuracy
    assert outcome(cell(6, 1.0 - NEUTRAL_ACCURACY_POINTS / 100), 1.0) == "neutralised"
    assert outcome(cell(6, 1.0 - (NEUTRAL_ACCURACY_POINTS + 0.5) / 100), 1.0) == "harmful"
    assert outcome(cell(0, 1.0, backdoor=0.49), 1.0) == "neutralised"
    assert outcome(cell(0, 1.0, backdoor=0.5), 1.0) == "harmful"
    assert outcome(cell(0, 1.0, submitted=0), 1.0) == "neutralised"  # nothing to reject


@pytest.mark.parametrize("tail_fix", ["short", "nan"])
def test_paper_scope_malformed_plaintext_tail_rejected(paper_pipe, tail_fix):
    """The remainder the paper sends in the clear must have the model's length and be
    finite; otherwise the submission is refused before any proof is looked at."""
    from zkflpq.pq import open_sealed, seal

    info = _paper_info(0, r=9)
    sub = paper_pipe.client_update_fn(np.zeros(D_PAPER, np.float32), info)
    body, _ = open_sealed(paper_pipe._kem_sk, sub, _seal_context(9, 0))
    ct_b, pf_b, mid_b, tail_b = _unpack(body, 4)
    tail = np.frombuffer(tail_b, dtype="<f4").copy()
    if tail_fix == "short":
        tail = tail[:-1]
    else:
        tail[3] = np.nan
    bad, _ = seal(paper_pipe._kem_pk, _pack(ct_b, pf_b, mid_b, tail.tobytes()),
                  _seal_context(9, 0))
    d = paper_pipe.defence(bad, info)
    assert not d.accepted and d.reason.startswith("decode:"), d
    # the untouched submission is accepted
    assert paper_pipe.defence(sub, info).accepted
