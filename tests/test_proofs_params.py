"""The executable parameter check of proofs/ (spec §7, v3 spec) and its failure detection.

proofs/params_check.py must exit 0 iff every constraint of DEFAULT holds (v3: one
Σ-repetition over primes p ≡ 5 mod 8, subring challenges, multi-message BFV). The
deliberately broken parameter sets below make sure the script can still fail, each for
its own reason; proofs/slot_attack_demo.py must show that the v2 slot attack has nothing
to attack in the v3 ring (and that it would with NTT-friendly primes).
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from zkflpq.bfv.params import DEFAULT, INSECURE_N64, BfvParams
from zkflpq.ring.primes import ntt_primes
from zkflpq.zk import params as zk_params
from zkflpq.zk.params import ZkParams

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "proofs" / "params_check.py"
DEMO = ROOT / "proofs" / "slot_attack_demo.py"


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[name] = mod  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def pc():
    return _load(SCRIPT, "proofs_params_check")


@pytest.fixture(scope="module")
def script_run():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--json"], capture_output=True,
                          text=True, timeout=600, cwd=ROOT)
    assert proc.stdout, proc.stderr
    return proc, json.loads(proc.stdout)


def _report(data: dict, name: str) -> dict:
    (rep,) = [r for r in data["reports"] if r["preset"] == name]
    return rep


def _checks(rep: dict) -> dict:
    return {c["name"]: c for c in rep["checks"]}


def test_script_exits_zero_for_default(script_run):
    proc, data = script_run
    assert proc.returncode == 0, _report(data, DEFAULT.name)["failures"]


def test_exit_status_is_the_default_verdict(script_run):
    proc, data = script_run
    rep = _report(data, DEFAULT.name)
    assert data["ok"] == rep["ok"] and rep["failures"] == []
    assert (proc.returncode == 0) == rep["ok"]


def test_default_security_and_ring(script_run):
    _, data = script_run
    c = _checks(_report(data, DEFAULT.name))
    he = c["bfv_he_standard_table"]
    assert he["ok"] and he["value"]["log2_q"] <= he["value"]["max_log2_q"] == 109
    rlwe = c["bfv_rlwe_multi_sample"]["value"]
    assert rlwe["samples"] == (DEFAULT.components + 1) * DEFAULT.n
    assert rlwe["he_model_classical"] - rlwe["hybrid_loss_bits"] >= 128
    rows = c["primes_two_factors_ls"]["value"]
    assert {(r["p"], r["n"]) for r in rows} == {(p, n) for p in DEFAULT.primes
                                                 for n in (DEFAULT.n, 1024)}
    assert all(r["p_mod_8"] == 5 and r["split_count"] == 2 and r["ls_radius"] > 2
               for r in rows)
    assert c["bdlop_binding_msis"]["ok"] and c["bdlop_binding_msis"]["value"]["d"] == 1024
    hide = c["bdlop_hiding_mlwe"]
    assert hide["ok"] and hide["value"]["secret_dim"] == 4 * 1024
    assert hide["value"]["he_model_classical"] >= 128
    assert c["ciphertext_binding_msis"]["ok"]


def test_default_soundness_terms(script_run):
    _, data = script_run
    c = _checks(_report(data, DEFAULT.name))
    cs = c["challenge_space"]["value"]
    assert cs["d"] == 1024 and cs["log2_C_prime_lower"] >= 128
    assert 0.9 < cs["fraction_uniform"] <= 1 and 0.9 < cs["fraction_sampler"] <= 1
    ke = c["knowledge_error"]["value"]
    terms = [ke["log2_challenge"], ke["log2_rlc"], ke["log2_jl_two_projections"]]
    assert max(terms) < ke["log2_total"] <= -128
    assert math.log2(sum(2.0 ** t for t in terms)) == pytest.approx(ke["log2_total"], abs=0.01)
    assert ke["log2_challenge"] == pytest.approx(1 - cs["log2_C_prime_lower"], abs=0.02)
    assert ke["log2_rlc"] <= -134  # (33/2^32)^5 for γ ∈ [0, 2^32), p_min ≈ 2^27
    jl = c["jl_lower_tail"]["value"]
    assert jl["log2_per_projection"] <= -130
    assert jl["log2_single_coordinate_unshifted"] == pytest.approx(-184.90, abs=0.01)
    # Through Lemma S the library's factor would not be enough: the check reports it.
    assert jl["log2_lemma_s_per_projection"] > -128
    assert ke["log2_jl_two_projections"] == pytest.approx(jl["log2_per_projection"] + 1,
                                                          abs=0.02)


def test_default_jl_products_decryption_sizes(script_run):
    _, data = script_run
    rep = _report(data, DEFAULT.name)
    c = _checks(rep)
    rows = c["jl_and_no_wrap"]["value"]
    assert [r["d"] for r in rows] == [1 << 12, 1 << 17, 1 << 20]
    assert all(r["jl_message_ok"] and r["jl_noise_ok"] and r["no_wrap_ok"] for r in rows)
    assert c["default_bound_accepted"]["value"]["B"] == 81920
    assert c["bound_range_sound"]["ok"]
    cap = c["aux_prime_capacity"]["value"]
    assert len(cap) == 3 * 3 + 1 and all(r["margin_bits"] > 0 for r in cap)
    assert cap[-1]["engine"] == "BFV R_N"
    dec = {r["d"]: r for r in c["decryption_K_max"]["value"]}
    for d in (1 << 17, 1 << 20):
        assert dec[d]["K_max"] == min(dec[d]["K_plaintext"], dec[d]["K_noise"]) >= 1000
        assert dec[d]["K_required"] == 1000
    sizes = {s["d"]: s for s in rep["info"]["sizes"]}
    assert sizes[1 << 12]["proof_bytes"] <= 400_000
    assert sizes[1 << 17]["proof_bytes_per_parameter"] <= 10
    assert sizes[1 << 20]["proof_bytes_per_parameter"] <= 8
    assert all(sizes[d]["ciphertext_bytes_per_parameter"] <= 12 for d in (1 << 17, 1 << 20))


def test_insecure_presets_are_reported_but_never_decide(script_run):
    _, data = script_run
    insecure = [r for r in data["reports"] if r["insecure"]]
    assert insecure, "the INSECURE presets must be reported"
    assert all(not r["ok"] and "bfv_he_standard_table" in r["failures"] for r in insecure)
    assert data["ok"] == _report(data, DEFAULT.name)["ok"]


def test_human_output_flags_insecure_sets():
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert proc.returncode == 0
    assert "insecure by design" in proc.stdout
    assert "DEFAULT (" in proc.stdout and "all constraints hold" in proc.stdout


def test_jl_tail_tools(pc):
    # The audit's figure: one non-zero coordinate, Pr[Bin(256, ½) ≤ 13] ≈ 2^-184.9.
    assert pc.log2_binom_half_cdf(13) == pytest.approx(-184.904, abs=1e-3)
    # The general-w bounds must be upper bounds of the exact single-coordinate tails.
    for c in (13.087, 30.0, 100.0):
        assert pc.log2_jl_lower_tail_bound(c, False)["log2_bound"] >= \
            pc.log2_binom_half_cdf(math.floor(c))
    for k2 in (3.27, 10.0, 25.0):
        assert pc.log2_jl_lower_tail_bound(k2, True)["log2_bound"] >= \
            pc.log2_binom_half_cdf(math.floor(k2))


# -- deliberately broken parameter sets ----------------------------------------------------

def test_fully_splitting_primes_fail(pc):
    res = pc.broken_fully_splitting()
    assert res["failed"] and "5 (mod 8)" in res["refused"]
    primes = ntt_primes(DEFAULT.n, 27, 3)
    with pytest.raises(ValueError):
        BfvParams(name="X", n=DEFAULT.n, primes=primes, t=DEFAULT.t)
    ls = pc.ls_split_check(primes, (DEFAULT.n, 1024))
    assert not ls["ok"]
    assert all(r["split_count"] == r["n"] and not r["ls_ok"] for r in ls["rows"])
    assert pc.ls_split_check(DEFAULT.primes, (DEFAULT.n, 1024))["ok"]


def test_too_few_aux_primes_fail(pc):
    res = pc.broken_too_few_aux()
    assert res["failed"] and "auxiliary primes" in res["refused"]
    assert all(r["margin_bits"] < 0 for r in res["capacity"])
    zk = ZkParams(DEFAULT, aux_counts=(3, 3, 5))
    with pytest.raises(ValueError, match="auxiliary"):
        zk.bounds(32, 81920)


def test_k_required_too_large_fails(pc):
    res = pc.broken_k_required(10 ** 6)
    assert res["failed"] and res["failures"] == ["decryption_K_max"]
    assert 1000 <= res["K_max"] < 10 ** 6
    ok = pc.analyse(DEFAULT, cset_samples=50, dims=(1 << 17,), k_required=res["K_max"],
                    k_required_dims=(1 << 17,))
    assert ok.check("decryption_K_max").ok


@pytest.mark.parametrize("degree", [16, 32])
def test_small_subring_challenge_set_fails(pc, degree):
    res = pc.broken_small_subring(degree)
    assert res["failed"] and res["log2_C_prime"] < 128 and res["log2_knowledge_error"] > -128
    assert {"challenge_space", "knowledge_error"} <= set(res["failures"])


def test_self_test_cli():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--self-test", "--json"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    data = json.loads(proc.stdout)
    assert proc.returncode == 0 and data["ok"]
    assert len(data["broken"]) == 6 and all(r["failed"] for r in data["broken"])


def test_larger_jl_factor_is_reported(pc, monkeypatch):
    """The JL term is computed from the library's constant: claiming B_arp = T_jl/4 makes
    the worst-case tail ≈ 2^-89.7 per projection and the check fails."""
    monkeypatch.setattr(zk_params, "JL_SOUND_FACTOR", 4.0)
    rep = pc.analyse(DEFAULT, cset_samples=50, dims=(1 << 12,))
    assert not rep.check("jl_lower_tail").ok and not rep.check("knowledge_error").ok


def test_bound_too_large_for_no_wrap_is_reported(pc):
    rep = pc.analyse(DEFAULT, bound=1 << 33, cset_samples=50, dims=(1 << 12, 1 << 17))
    assert rep.info["library_rejects_statement"]
    assert not rep.check("jl_and_no_wrap").ok and not rep.check("default_bound_accepted").ok
    assert not all(r["no_wrap_ok"] for r in rep.check("jl_and_no_wrap").value)


def test_modulus_too_small_is_reported(pc):
    small = BfvParams(name="BROKEN-small-q", n=64, primes=(INSECURE_N64.primes[0],),
                      t=1 << 16, insecure=True)
    rep = pc.analyse(small, zk=ZkParams(small, subring_degree=64, mlwe_rank=2),
                     bound=81920, cset_samples=50, dims=(1 << 12,))
    assert not rep.check("jl_and_no_wrap").ok
    assert not any(r["no_wrap_ok"] for r in rep.check("jl_and_no_wrap").value)


# -- the slot attack has nothing to attack -------------------------------------------------

def test_slot_attack_fails_structurally():
    proc = subprocess.run([sys.executable, str(DEMO), "--json"], capture_output=True,
                          text=True, timeout=600, cwd=ROOT)
    res = json.loads(proc.stdout)
    assert proc.returncode == 0 and res["attack_possible"] is False
    assert res["slots"] == 0 and all(s["degree_one_factors"] == 0 and s["split_count"] == 2
                                     for s in res["structure"])
    assert not res["step1_slot_idempotent"]["built"]
    assert "NTT" in res["step1_slot_idempotent"]["refusal"]
    red = res["factor_reductions"]
    assert len(red) == 2 * len(DEFAULT.primes)
    assert all(r["analysed"] and r["collisions"] == 0 for r in red)
    assert "no NTT slots" in res["reason"]


def test_slot_attack_applies_to_fully_splitting_primes():
    primes = ",".join(map(str, ntt_primes(INSECURE_N64.n * 16, 27, 3)))
    proc = subprocess.run([sys.executable, str(DEMO), "--json", "--preset", INSECURE_N64.name,
                           "--primes", primes], capture_output=True, text=True, timeout=600,
                          cwd=ROOT)
    res = json.loads(proc.stdout)
    assert proc.returncode == 1 and res["attack_possible"] is True
    assert res["slots"] > 0 and res["step1_slot_idempotent"]["built"]
    assert "1/p" in res["reason"]


def test_ciphertext_binding_is_checked_at_every_dimension(script_run):
    """The (m, e1) binding of the ciphertext inside the extraction box (security.md §2.2,
    G1) is a pass/fail check computed from the library's bounds: C1 and C2 at 2^12, 2^17
    and 2^20, with the box growing with d, and the largest accepted statement reported."""
    _, data = script_run
    check = _checks(_report(data, DEFAULT.name))["ciphertext_binding_m_e1"]
    assert check["ok"]
    rows = {r["d"]: r for r in check["value"] if "d" in r}
    assert set(rows) == {1 << 12, 1 << 17, 1 << 20}
    assert all(r["C1"] and r["C2"] and r["library"] and r["log2_Y"] < r["log2_q_mod_t"]
               for r in rows.values())
    assert rows[1 << 12]["log2_Y"] < rows[1 << 17]["log2_Y"] < rows[1 << 20]["log2_Y"]
    (limit,) = [r for r in check["value"] if "max_chunks" in r]
    assert limit["max_parameters"] == limit["max_chunks"] * DEFAULT.n >= 1 << 21


def test_t_too_small_for_binding_fails(pc):
    """t = 2^32 (the first v3 set): q mod t ≈ 2^31.75 lies inside the e1 box at 2^20."""
    res = pc.broken_small_t()
    assert res["failed"] and res["library_refuses"]
    assert res["log2_Y"] >= res["log2_q_mod_t"] and res["max_chunks"] < 256
