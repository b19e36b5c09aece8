"""Each experiment script's ``--quick`` mode completes (through its CLI) and writes
its JSON with the required keys and sane values."""

from __future__ import annotations

import math

import pytest

from experiments.reproduce_paper import CONFIGURATION_KEYS, REQUIRED_KEYS, SCOPE_RUNS


def test_reproduction_keys_and_headline(reproduction, quick_out):
    r = reproduction
    for k in REQUIRED_KEYS:
        assert k in r, k
    assert r["encrypted_fraction"] == 1.0
    assert r["proven_fraction"] == 1.0
    # the same keys per configuration; the top level is the full scope's
    assert set(r["configurations"]) == set(SCOPE_RUNS)
    for conf in r["configurations"].values():
        assert set(CONFIGURATION_KEYS) <= set(conf), conf.keys()
    assert r["configurations"]["full"]["overhead_factor"] == r["overhead_factor"]
    ps = r["configurations"]["paper-scope"]
    assert (ps["encrypted_params"], ps["proven_params"]) == (512, 256)
    assert ps["encrypted_fraction"] == 512 / r["n_params"]
    assert ps["malicious_rejected_rate"] == 1.0 and ps["honest_rejected_rate"] == 0.0
    assert r["malicious_rejected_rate"] == 1.0
    assert r["honest_rejected_rate"] == 0.0
    assert set(r["final_accuracy"]) >= {"standard", "mlkem", "zkflpq"}
    for v in r["final_accuracy"].values():
        assert 0.0 <= v <= 1.0
    # the Gaussian attacker hurts unprotected FL; ZKFL-PQ keeps the no-attack accuracy
    assert r["final_accuracy"]["zkflpq"] > r["final_accuracy"]["standard"]
    assert abs(r["final_accuracy"]["zkflpq"] - r["final_accuracy"]["zkflpq_no_attack"]) <= 0.01
    assert r["detection_rate"]["standard"] == 0.0 and r["detection_rate"]["mlkem"] == 0.0
    # proofs are not free: the factor is measured, finite and > 1
    assert math.isfinite(r["overhead_factor"]) and r["overhead_factor"] > 1.0
    assert set(r["rejection_reasons"]) and all(k.startswith("proof:")
                                              for k in r["rejection_reasons"])
    # ablations: no honest client rejected at any tau / number of attackers; all attackers are
    for row in r["ablation_malicious"] + r["ablation_tau"]:
        assert row["honest_rejected"] == 0
        if row["malicious_submissions"]:
            assert row["malicious_rejected_rate"] == 1.0
    assert [row["malicious"] for row in r["ablation_malicious"]] == sorted(
        row["malicious"] for row in r["ablation_malicious"])
    out = quick_out / "reproduction"
    for f in ("runs.json", "table.md", "accuracy_per_round.png", "ablation_tau.png"):
        assert (out / f).stat().st_size > 0, f
    assert "ZKFL-PQ" in (out / "table.md").read_text()


def test_attack_matrix(attacks):
    m = attacks["matrix"]
    assert {"none", "gaussian", "gaussian_at_bound", "scaling", "backdoor"} <= set(m)
    for row in m.values():
        for dfn in ("no_bound", "proven_bound", "plaintext_check"):
            cell = row[dfn]
            assert cell["final_accuracy"] is not None
            assert cell["honest_rejected"] == 0 or dfn == "no_bound"
    assert m["gaussian"]["proven_bound"]["malicious_rejected_rate"] == 1.0
    assert m["gaussian"]["no_bound"]["malicious_rejected_rate"] == 0.0
    # the adaptive attacker that scales its noise to the bound passes it
    assert m["gaussian_at_bound"]["proven_bound"]["malicious_rejected_rate"] == 0.0
    assert "gaussian" in attacks["stopped_by_norm_bound"]
    assert "gaussian_at_bound" in attacks["passes_norm_bound"]
    assert m["backdoor"]["proven_bound"]["final_backdoor_success"] is not None
    for v in attacks["verdicts"]:
        assert v["proof_and_plaintext_check_agree"], v


def test_overhead(overhead):
    z = overhead["configs"]["zkflpq"]
    for ph in ("train", "quantise", "encrypt", "prove", "seal", "open", "verify",
               "aggregate", "decrypt"):
        assert z["round_phases_s"][ph] > 0.0, ph
    b = z["bytes_per_message"]
    assert b["ciphertext_bytes"] > b["plaintext_bytes"]
    assert b["envelope_bytes"] > b["ciphertext_bytes"] + b["proof_bytes"]
    assert overhead["overhead_factor"] > 1.0
    assert overhead["kem_bench"]["mlkem768"]["overhead_bytes"] > 1000


def test_scaling(scaling):
    dims = scaling["dimension"]
    assert len(dims) >= 3
    ds = [row["d"] for row in dims]
    assert ds == sorted(ds)
    assert all(row["prove_s"] > 0 and row["verify_s"] > 0 for row in dims)
    sizes = [row["proof_bytes"] for row in dims]
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]
    cl = scaling["clients"]
    assert [row["n_clients"] for row in cl] == sorted(row["n_clients"] for row in cl)
    for row in cl:
        assert row["zkflpq_round_s"] > row["zkflpq_modelled_concurrent_round_s"] > 0
        assert row["honest_rejected"] == 0


def test_real_data(real_data):
    res = real_data["results"]
    for name in ("breast_cancer", "digits"):
        t = res[name]
        assert set(t) == {"standard/none", "standard/gaussian", "zkflpq/none",
                          "zkflpq/gaussian"}
        assert t["zkflpq/gaussian"]["malicious_rejected_rate"] == 1.0
        assert t["zkflpq/gaussian"]["honest_rejected_rate"] == 0.0
    smoke = res["medmnist_smoke_generated"]["zkflpq/none"]
    assert smoke["final_accuracy"] > 0.5  # the generated classes are learnable
    assert real_data["medmnist"]["status"] in ("present", "not present")


def test_anchors(anchors):
    o = anchors["zkflpq_bfv"]
    assert o["exact"] is True and o["encrypt_ms"] > 0
    pytest.importorskip("tenseal")
    assert anchors["tenseal_status"] == "measured"
    assert anchors["tenseal_bfv"]["encrypt_ms"] > 0
    # OpenFHE: either measured in a Python 3.10 env, or a stated reason and no numbers
    of = anchors["openfhe"]
    assert of["status"] in ("measured", "not run", "failed")
    if of["status"] != "measured":
        assert of["results"] is None and of["reason"]


def test_medmnist_loader_on_generated_file(tmp_path):
    from experiments.real_data import make_fake_medmnist
    from zkflpq.fl.data import load_medmnist_npz

    p = make_fake_medmnist(tmp_path / "tiny.npz", n_train=30, n_test=10, side=8, n_classes=4)
    tr = load_medmnist_npz(p, "train")
    te = load_medmnist_npz(p, "test", n_classes=tr.n_classes)
    assert tr.X.shape == (30, 64) and te.X.shape == (10, 64)
    assert 0.0 <= tr.X.min() and tr.X.max() <= 1.0
    assert tr.n_classes == te.n_classes
