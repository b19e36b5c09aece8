"""The executable parameter check of proofs/ (spec §7) and its failure detection.

proofs/params_check.py must exit 0 iff every constraint of DEFAULT holds. At the time
of writing DEFAULT violates four constraints (proofs/security.md §0): they are listed
in KNOWN_VIOLATIONS, the exit-status test is a strict xfail until zkflpq/zk is fixed,
and any NEW failure makes the suite fail.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from zkflpq.bfv.params import DEFAULT, INSECURE_N64, BfvParams
from zkflpq.zk.params import ZkParams

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "proofs" / "params_check.py"
DEMO = ROOT / "proofs" / "slot_attack_demo.py"

# Constraints DEFAULT violates today (see proofs/security.md §0 for each and its fix).
KNOWN_VIOLATIONS = {
    "soundness_fully_splitting_slot",  # F1: X^N+1 splits fully mod p_i: 2^-30 slot attack
    "bdlop_hiding_mlwe",  # F2: ℓ = 3 < κ + #messages + 1: commitments not hiding
    "implemented_arp_bound_valid",  # F3: arp_bound uses √26 for the shifted JL relation
    "bound_range_sound",  # F4: ProofBounds accepts B < 2^34 > B_max ≈ 2^30.17
}


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


@pytest.mark.xfail(strict=True, reason="DEFAULT violates KNOWN_VIOLATIONS (proofs/security.md "
                   "§0, findings F1–F4); remove this marker when zkflpq/zk is fixed")
def test_script_exits_zero_for_default(script_run):
    proc, data = script_run
    assert proc.returncode == 0, _report(data, DEFAULT.name)["failures"]


def test_exit_status_is_the_default_verdict(script_run):
    proc, data = script_run
    rep = _report(data, DEFAULT.name)
    assert data["ok"] == rep["ok"]
    assert (proc.returncode == 0) == rep["ok"]
    assert set(rep["failures"]) <= KNOWN_VIOLATIONS, "new constraint violation for DEFAULT"


def test_default_key_fields(script_run):
    _, data = script_run
    c = _checks(_report(data, DEFAULT.name))
    assert c["bfv_he_standard_table"]["ok"]
    assert c["bfv_he_standard_table"]["value"]["log2_q"] <= 109
    assert c["bfv_primal_estimate"]["value"]["he_model_classical"] >= 128
    assert c["bdlop_binding_msis"]["value"]["he_model_classical"] >= 128
    assert c["ciphertext_binding_msis"]["ok"]
    assert c["challenge_space"]["value"]["log2_C_prime_lower"] >= 128
    sound = c["soundness_idealised"]["value"]
    assert sound["log2_total"] <= -128
    assert sound["log2_rlc_total"] <= -148  # (5/2^32)^5 ≈ 2^-148.4 for γ ∈ [0, 2^32)
    rows = c["jl_and_no_wrap"]["value"]
    assert [r["d"] for r in rows] == [1 << 15, 1 << 17, 1 << 20]
    assert all(r["jl_message_ok"] and r["jl_noise_ok"] and r["no_wrap_ok"] for r in rows)
    assert c["jl_and_no_wrap"]["ok"] and c["default_bound_sound"]["ok"]
    assert c["default_bound_sound"]["value"]["B"] == 81920
    dec = c["decryption_K_max"]["value"]
    assert all(r["K_max"] == min(r["K_plaintext"], r["K_noise"]) >= 1024 for r in dec)
    rs = c["rejection_sampling"]["value"]
    assert abs(rs["M_sigma"] - 3.06) < 0.01 and abs(rs["M_jl"] - 1.25) < 0.01
    bmax = c["bound_range_sound"]["value"]["B_max"]
    assert 81920 < bmax < 1 << 31
    sizes = _report(data, DEFAULT.name)["info"]["proof_size"]
    assert [s["d"] for s in sizes] == [1 << 15, 1 << 17, 1 << 20]
    assert all(s["bytes"] > 0 for s in sizes)


def test_insecure_presets_are_reported_but_never_decide(script_run):
    _, data = script_run
    insecure = [r for r in data["reports"] if r["insecure"]]
    assert insecure, "the INSECURE presets must be reported"
    assert all(not r["ok"] for r in insecure)  # e.g. the HE table has no row for N < 1024
    assert data["ok"] == _report(data, DEFAULT.name)["ok"]


def test_human_output_flags_insecure_sets():
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert "insecure by design" in proc.stdout
    assert "DEFAULT (" in proc.stdout


def test_bound_too_large_for_no_wrap_is_reported(pc):
    """B so large that 2·B_arp² ≥ q: the JL / no-wrap checks must fail."""
    rep = pc.analyse(DEFAULT, bound=1 << 33, cset_samples=50)
    c = {x.name: x for x in rep.checks}
    assert not c["jl_and_no_wrap"].ok
    assert not c["default_bound_sound"].ok
    assert not all(r["no_wrap_ok"] for r in c["jl_and_no_wrap"].value)
    assert not rep.ok


def test_modulus_too_small_is_reported(pc):
    """A single 30-bit prime instead of q ≈ 2^90: q < 2·B_arp² and q < 41·dim·B_arp."""
    small = BfvParams(name="BROKEN-small-q", n=64, primes=(INSECURE_N64.primes[0],), t=1 << 16,
                      insecure=True)
    rep = pc.analyse(small, bound=81920, cset_samples=50)
    c = {x.name: x for x in rep.checks}
    assert not c["jl_and_no_wrap"].ok
    assert not any(r["no_wrap_ok"] for r in c["jl_and_no_wrap"].value)
    assert not c["decryption_K_max"].ok or not c["bfv_he_standard_table"].ok


def test_monkeypatched_modulus_is_reported(pc, monkeypatch):
    """The check reads q from the parameter objects: shrinking it makes the check fail."""
    monkeypatch.setattr(BfvParams, "q", property(lambda self: self.primes[0]))
    rep = pc.analyse(DEFAULT, cset_samples=50)
    assert not {x.name: x for x in rep.checks}["jl_and_no_wrap"].ok


def test_small_challenge_space_is_reported(pc):
    zk = ZkParams(DEFAULT)
    zk.__dict__["challenge_weight"] = 4  # cached_property: |C| ≈ 2^45
    rep = pc.analyse(DEFAULT, zk=zk, cset_samples=50)
    c = {x.name: x for x in rep.checks}
    assert not c["challenge_space"].ok
    assert not c["soundness_idealised"].ok


def test_numerical_tools_reproduce_published_constants(pc):
    # χ² model of the 256-row JL projection: √30 (LaBRADOR's lower constant) at 2^-128 and
    # √337 (the GHL22/LNP22 upper constant) at 2^-128.
    assert abs(pc.jl_lower_constant(128) - 30.64) < 0.05
    assert abs(pc.jl_upper_constant(128) - 336.7) < 0.5
    assert 13.0 < pc.jl_lower_constant(260) < 13.2
    # The primal-uSVP estimator is close to the published core-SVP block sizes
    # (Kyber-512: β ≈ 413, Kyber-768: β ≈ 637) and puts the HE table boundary at ≈ 128.
    import math
    assert 390 <= pc.primal_usvp_beta(512, 3329, math.sqrt(1.5), math.sqrt(1.5), 512)[0] <= 430
    assert 600 <= pc.primal_usvp_beta(768, 3329, 1.0, 1.0, 768)[0] <= 660
    edge = pc.core_svp(pc.primal_usvp_beta(4096, 2 ** 109, 3.2, math.sqrt(2 / 3), 8192))
    assert 125 <= edge["he_model_classical"] <= 131


def test_slot_attack_demo_matches_the_check(script_run):
    """F1 is real: with the random oracle programmed at the cheater's query (the event
    'ĉ in the chosen NTT slot equals the guess', probability ≈ 1/p), a ciphertext that is
    wrong in one NTT slot verifies; the same proof is rejected under the real oracle and
    a wrong guess is rejected. The check reports the fully-splitting term accordingly."""
    _, data = script_run
    slot = _checks(_report(data, INSECURE_N64.name))["soundness_fully_splitting_slot"]
    proc = subprocess.run([sys.executable, str(DEMO), "--json", "--preset", INSECURE_N64.name],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    res = json.loads(proc.stdout)
    vulnerable = slot["value"]["factor_degree"] == 1
    assert res["accepted_with_programmed_oracle"] is vulnerable
    assert not res["accepted_with_real_oracle"]
    assert not res["accepted_with_wrong_guess_programmed"]
    assert res["decrypted_coefficients_wrong"] > 0
