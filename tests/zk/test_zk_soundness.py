"""Soundness and binding tests of the verifier (spec §9 items 1–6).

Where a test targets one verifier check, it also shows that the cheating proof passes
everything else (`unchecked_verify`: the challenge recomputation alone accepts it), so
the test fails if that check is removed — not merely because the reason code changes.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from zk_support import (
    CTX,
    FIELDS,
    Z_BLOCKS,
    IgnoreAllBounds,
    TwinProver,
    chunked,
    exact_jl_project,
    norm2,
    replace,
    statement_deterministic,
    statement_for,
    unchecked_verify,
    vector_with_norm,
)

import zkflpq.zk.protocol as protocol
from zkflpq.bfv import (
    Ciphertexts,
    EncryptionRandomness,
    PublicKey,
    encrypt_with_randomness,
    keygen,
)
from zkflpq.bfv.scheme import ring_of
from zkflpq.ring import Csprng
from zkflpq.ring.exact import exact_products
from zkflpq.zk import (
    NormBoundExceeded,
    NormStatement,
    ProvingFailed,
    Verdict,
    proof_context,
    prove,
    verify,
    zk_params_for,
)
from zkflpq.zk.challenge import Challenge
from zkflpq.zk.foursquare import four_squares

REJECT = {"malformed", "statement_mismatch", "challenge_invalid", "relation_nonzero",
          "jl_too_large", "response_too_large", "proof_invalid"}


def _bump(arr: np.ndarray, index: tuple, delta: int, prime: int | None = None) -> np.ndarray:
    out = arr.copy()
    out[index] = (out[index] + delta) % prime if prime is not None else out[index] + delta
    return out


def _mutations(case, positions: str):
    """(label, mutated proof, allowed reasons) for one-coefficient changes of every field."""
    p = case.proof
    primes = case.params.primes
    rng = np.random.default_rng(7)
    deltas = (1,) if positions == "one" else (1, -1)
    for f in ("t0", "t_msg", "t_G1", "h"):
        arr = getattr(p, f)
        rows, L, n = arr.shape
        picks = [(0, 0, 1), (rows - 1, L - 1, n - 1)][: 1 if positions == "one" else 2]
        if positions == "many":
            picks.append((int(rng.integers(rows)), int(rng.integers(L)), int(rng.integers(1, n))))
        if f != "h" and positions != "one":
            picks.append((0, 0, 0))  # constant terms of h are test 6's business
        for idx in picks:
            for d in deltas:
                yield (f"{f}{idx}{d:+d}", replace(p, **{f: _bump(arr, idx, d, primes[idx[1]])}),
                       {"proof_invalid"})
    for f in ("z_jm", "z_je"):
        arr = getattr(p, f)
        picks = [0, arr.size - 1][: 1 if positions == "one" else 2]
        picks += [int(rng.integers(arr.size))] if positions == "many" else []
        for i in picks:
            for d in deltas:
                yield f"{f}[{i}]{d:+d}", replace(p, **{f: _bump(arr, (i,), d)}), {"proof_invalid"}
    for b in Z_BLOCKS:
        arr = p.z[b]
        # z[b] is (k or g, N), or (ℓ, d) for r: the first and the last coefficient.
        picks = [(0, 0), tuple(d - 1 for d in arr.shape)][: 1 if positions == "one" else 2]
        if positions == "many":
            picks.append(tuple(int(rng.integers(d)) for d in arr.shape))
        for idx in picks:
            for d in deltas:
                z = {k: v.copy() for k, v in p.z.items()}
                z[b] = _bump(arr, idx, d)
                yield f"z[{b}]{idx}{d:+d}", replace(p, z=z), {"proof_invalid"}
    # c: one coefficient pair changes sign, or moves by ±1 to a free index. The result is
    # in C; it may fall outside C' (operator norm), which is a rejection too.
    c = p.c  # the single challenge, in the subring R_d

    def with_c(new: Challenge):
        return replace(p, c=new)

    js = [0, len(c.pairs) - 1][: 1 if positions == "one" else 2]
    js += [len(c.pairs) // 2] if positions == "many" else []
    for j in js:
        signs = list(c.signs)
        signs[j] = -signs[j]
        yield f"c.sign[{j}]", with_c(Challenge(c.n, c.pairs, tuple(signs))), \
            {"proof_invalid", "challenge_invalid"}
        for d in deltas:
            moved = c.pairs[j] + d
            if 1 <= moved < c.n // 2 and moved not in c.pairs:
                pairs = tuple(sorted(c.pairs[:j] + (moved,) + c.pairs[j + 1:]))
                order = np.argsort(c.pairs[:j] + (moved,) + c.pairs[j + 1:])
                yield f"c.pair[{j}]{d:+d}", with_c(Challenge(
                    c.n, pairs, tuple(c.signs[i] for i in order))), \
                    {"proof_invalid", "challenge_invalid"}


@pytest.mark.parametrize("name,positions", [("n64", "many"), ("n256", "few"),
                                            ("default", "one")])
def test_every_field_mutated_by_one_is_rejected(cases, name, positions):
    """§9.4 (objects): every field of NormProof, one coefficient ±1 (mod p for residues)."""
    case = cases(name)
    covered = set()
    for label, proof, reasons in _mutations(case, positions):
        v = verify(case.statement, proof)
        assert not v and v.reason in reasons, (label, v)
        covered.add(label.split("[")[0].split("(")[0].split(".")[0])
    assert covered >= {"t0", "t_msg", "t_G1", "h", "z_jm", "z_je", "c", "z"}
    assert set(FIELDS) <= covered
    # every field of the dataclass but the statement header (tested on its own below)
    assert {f.name for f in dataclasses.fields(case.proof)} - {"params", "k", "bound"} \
        == set(FIELDS)
    assert verify(case.statement, case.proof)  # the shared proof was not modified


def _section_starts(case):
    from test_zk_codec import sections
    return sections(case)


def test_byte_flips_are_rejected_never_raise(n64):
    """§9.4 (bytes): flip one byte at every 97th position and at the first and last byte
    of every section of the encoding; never accepted, never an exception."""
    data = n64.data
    secs = _section_starts(n64)
    positions = set(range(0, len(data), 97)) | {len(data) - 1}
    for start, end in secs.values():
        if end > start:
            positions |= {start, end - 1}
    seen = set()
    boundaries = {p for se in secs.values() for p in (se[0], se[1] - 1)}
    for pos in sorted(positions):
        for mask in (0xFF, 0x01) if pos in boundaries else (0xFF,):
            raw = bytearray(data)
            raw[pos] ^= mask
            v = verify(n64.statement, bytes(raw))
            assert not v and v.reason in REJECT, (pos, mask, v)
            seen.add(v.reason)
    assert len(positions) > 200
    assert {"malformed", "proof_invalid"} <= seen


def test_byte_flips_default_parameter_set(default_case):
    """A few flips on the real parameter set (one per section boundary)."""
    data = default_case.data
    for name, (start, end) in _section_starts(default_case).items():
        for pos in {start, end - 1} if end > start else set():
            raw = bytearray(data)
            raw[pos] ^= 0xFF
            v = verify(default_case.statement, bytes(raw))
            assert not v and v.reason in REJECT, (name, pos, v)


# -- §9.1 ciphertexts of another plaintext -------------------------------------------------

def test_proof_for_small_plaintext_does_not_verify_for_large_ciphertext(keys_n64):
    """§9.1: ct encrypts m with ‖m‖ > B; a proof built for m' (‖m'‖ ≤ B, its own
    ciphertexts) is presented with the statement's ciphertexts swapped to those of m."""
    _, pk = keys_n64
    rng = np.random.default_rng(91)
    B = 500
    m_big = chunked(pk.params, vector_with_norm(rng, 100, 2 * B * B))
    m_ok = chunked(pk.params, vector_with_norm(rng, 100, B * B - 17))
    st_ok, rand_ok = statement_for(pk, m_ok, B)
    proof = prove(st_ok, m_ok, rand_ok)
    assert verify(st_ok, proof)
    ct_big, _ = encrypt_with_randomness(pk, m_big)
    st_big = NormStatement(pk.params, pk, ct_big, B, CTX)
    v = verify(st_big, proof)
    assert not v and v.reason == "proof_invalid"
    assert not verify(st_big, proof.to_bytes())
    # Splicing: only one of the two chunks (same group, so c1 stays the proof's) swapped.
    spliced = st_ok.ciphertexts.c0.copy()
    spliced[1] = ct_big.c0[1]
    st_mix = NormStatement(pk.params, pk, Ciphertexts(pk.params, spliced,
                                                      st_ok.ciphertexts.c1), B, CTX)
    assert verify(st_mix, proof).reason == "proof_invalid"


# -- §9.2 ‖m‖ = B + 1 with the prover's own checks bypassed --------------------------------

@pytest.fixture(scope="module")
def over_bound(keys_n64):
    """‖m‖ = B + 1 exactly, honest encryption (k = 1, N = 64)."""
    _, pk = keys_n64
    B = 100
    m = chunked(pk.params, vector_with_norm(np.random.default_rng(92), 64, (B + 1) ** 2))
    st, rand = statement_for(pk, m, B)
    return st, m, rand


def test_honest_prover_refuses_norm_b_plus_1(over_bound):
    st, m, rand = over_bound
    with pytest.raises(NormBoundExceeded):
        prove(st, m, rand)


def test_prove_checked_with_patched_four_squares_still_produces_nothing(over_bound, monkeypatch):
    """Calling _prove_checked directly with a four-square routine that accepts the negative
    B² − ‖m‖²: the prover's internal consistency check (ct(h) = 0) stops it."""
    st, m, rand = over_bound
    real = four_squares
    monkeypatch.setattr(protocol, "four_squares",
                        lambda n, rng=None: real(abs(n), rng) if n < 0 else real(n, rng))
    with pytest.raises(AssertionError, match="constant term"):
        protocol._prove_checked(st, protocol._Ctx.of(st), Csprng(), _secret(m, rand), norm2(m))


def _secret(m, rand) -> dict[str, np.ndarray]:
    return {"m": np.asarray(m, np.int64), "e1": rand.e1, "u": rand.u, "e2": rand.e2}


class _SendRawH(TwinProver):
    """‖m‖ > B with a = 0 (no four-square completion exists): h is sent as computed."""

    def completion(self, B, norm2_m, d):
        return np.zeros(d, dtype=np.int64)

    def finish_h(self, h):
        return h


class _ZeroConstantOfH(_SendRawH):
    """…or with ct(h_r) forced to 0 (then h ≠ F(s) and the challenge does not recompute)."""

    def finish_h(self, h):
        h = h.copy()
        h[:, :, 0] = 0
        return h


class _WrapAround(IgnoreAllBounds):
    """‖m‖² + ‖a‖² = B² + q: the relation holds mod q, a has norm ≈ √q (JL must catch it);
    zero JL masks minimise ‖z_j‖ for the cheater, and no bound stops it."""

    def completion(self, B, norm2_m, d):
        a = np.zeros(d, dtype=np.int64)
        a[:4] = four_squares(B * B - norm2_m + self.q)
        return a

    def project(self, seed, label, w):
        return exact_jl_project(seed, label, w)  # |a_i| ≈ 2^45: beyond jl_project's range


def test_norm_b_plus_1_raw_h_is_relation_nonzero(over_bound):
    st, m, rand = over_bound
    proof = _SendRawH(Csprng.from_seed(b"cheat", b"raw-h")).prove(st, m, rand)
    assert proof.h[:, :, 0].any()
    v = verify(st, proof)
    assert not v and v.reason == "relation_nonzero"
    assert unchecked_verify(st, proof)  # only ct(h) = 0 stands between it and acceptance
    assert verify(st, proof.to_bytes()).reason == "relation_nonzero"


def test_norm_b_plus_1_zeroed_h_is_invalid(over_bound):
    st, m, rand = over_bound
    proof = _ZeroConstantOfH(Csprng.from_seed(b"cheat", b"zero-h")).prove(st, m, rand)
    assert verify(st, proof).reason == "proof_invalid"


def test_norm_b_plus_1_wrap_around_mod_q_is_jl_too_large(over_bound):
    st, m, rand = over_bound
    cheat = _WrapAround(Csprng.from_seed(b"cheat", b"wrap"))
    cheat.q = st.params.q
    proof = cheat.prove(st, m, rand)
    assert not proof.h[:, :, 0].any()  # the modular relation holds
    v = verify(st, proof)
    assert not v and v.reason == "jl_too_large"
    assert unchecked_verify(st, proof)  # only the JL bound stands between it and acceptance


# -- §9.3 large noise ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def noisy(keys_n64):
    """(pk, m, honest randomness, B): k = 2 chunks."""
    _, pk = keys_n64
    m = chunked(pk.params, vector_with_norm(np.random.default_rng(93), 100, 300 ** 2))
    _, rand = encrypt_with_randomness(pk, m, Csprng.from_seed(b"noise", b"rand"))
    return pk, m, rand, 400


def _encrypt_exact(pk, m, rand) -> Ciphertexts:
    """Enc(m; u, e1, e2) for ANY integer u: encrypt_deterministic's products are exact only
    for a ternary u (its engine covers N·q/2), a cheater computes them for its own u."""
    params = pk.params
    R = ring_of(params)
    u = np.asarray(rand.u, np.int64)
    ep = exact_products(params.n, params.n * (params.q // 2 + 1) * max(1, int(np.abs(u).max())))
    u_hat, a_hat = ep.from_int(u), ep.from_residues(pk.a, R.basis)
    b_hat = ep.from_residues(pk.b, R.basis)
    k = m.shape[0]
    comp, grp = np.arange(k) % params.components, np.arange(k) // params.components
    c0 = R.add(R.add(ep.to_residues(ep.mul(b_hat[comp], u_hat[grp]), R.basis),
                     R.from_int(rand.e1)), R.scalar_mul(R.from_int(m), params.delta))
    c1 = R.add(ep.to_residues(ep.mul(a_hat[None], u_hat), R.basis), R.from_int(rand.e2))
    return Ciphertexts(params, c0, c1)


def _scaled(rand, block, scale):
    parts = {"u": rand.u, "e1": rand.e1, "e2": rand.e2}
    parts[block] = parts[block] * int(scale)
    return EncryptionRandomness(**parts)


@pytest.mark.parametrize("block,reason", [("u", "response_too_large"), ("e1", "jl_too_large"),
                                          ("e2", "jl_too_large")])
def test_large_noise_is_rejected(noisy, block, reason):
    """§9.3: encrypt_deterministic with one noise block far above the public bound, so that
    ‖c·e‖ ≈ 2·T_block (T_block the response bound). The Σ-protocol masks are block-
    normalised (σ_b√n_b = α·η·β_b·√n_total), so for the chunk errors e1 and the group
    error e2 the JL bound on (u, e1, e2) (the proven noise bound, dominated by e1 and e2)
    is the tighter one and fires first; u is shared per group (g·N coefficients, β_u =
    √(g·N)), so its own response bound is far below what the JL bound allows and fires
    first. Either way the cheating proof passes the challenge recomputation."""
    pk, m, rand, B = noisy
    zk = zk_params_for(pk.params)
    bnds = zk.bounds(m.shape[0], B)
    base = {"u": rand.u, "e1": rand.e1, "e2": rand.e2}[block]
    scale = 2 * bnds.z_norm_bound[block] / (np.sqrt(2 * zk.challenge_weight) * np.linalg.norm(base))
    big = _scaled(rand, block, np.ceil(scale))
    st = NormStatement(pk.params, pk, _encrypt_exact(pk, m, big), B, CTX)
    if block != "u":
        assert np.array_equal(st.ciphertexts.c0, statement_deterministic(pk, m, big, B)
                              .ciphertexts.c0)  # the twin encryption agrees where both apply
    with pytest.raises(ProvingFailed):
        prove(st, m, big)  # the honest prover refuses (noise check)
    proof = IgnoreAllBounds(Csprng.from_seed(b"noise", block.encode())).prove(st, m, big)
    v = verify(st, proof)
    assert not v and v.reason == reason, v
    assert unchecked_verify(st, proof)  # only the norm bounds stand in the way


class _OversizedMasks(IgnoreAllBounds):
    """Honest witness, but the masks of one block are 4σ wide (z far above its bound)."""

    block = "m"

    def sigma_masks(self, sigma, secret):
        widened = dict(sigma, **{self.block: 4 * sigma[self.block]})
        return super().sigma_masks(widened, secret)


@pytest.mark.parametrize("block", Z_BLOCKS)
def test_oversized_responses_are_response_too_large(noisy, block):
    """The response bound of every block is live: with it removed, a proof whose z_b is
    4× too wide (the extractor's MSIS bound no longer holds) would be accepted."""
    pk, m, rand, B = noisy
    st = statement_deterministic(pk, m, rand, B)
    cheat = _OversizedMasks(Csprng.from_seed(b"wide", block.encode()))
    cheat.block = block
    proof = cheat.prove(st, m, rand)
    v = verify(st, proof)
    assert not v and v.reason == "response_too_large", v
    assert unchecked_verify(st, proof)


def test_noise_above_proven_bound_is_jl_too_large(noisy):
    """Noise of norm 2·B_arp,noise (what the JL check proves) in e1 → "jl_too_large"."""
    pk, m, rand, B = noisy
    bnds = zk_params_for(pk.params).bounds(m.shape[0], B)
    big = _scaled(rand, "e1", np.ceil(2 * bnds.arp_bound_noise / np.linalg.norm(rand.e1)))
    st = statement_deterministic(pk, m, big, B)
    proof = IgnoreAllBounds(Csprng.from_seed(b"noise", b"jl")).prove(st, m, big)
    v = verify(st, proof)
    assert not v and v.reason == "jl_too_large"
    assert unchecked_verify(st, proof)


def test_prove_checked_with_large_noise_does_not_terminate(noisy, monkeypatch):
    """Bypassing prove()'s noise check: _prove_checked itself gives up (its restarts and
    bounds make a proof impossible), rather than emitting an oversized response."""
    pk, m, rand, B = noisy
    big = EncryptionRandomness(rand.u, rand.e1 * 40, rand.e2)
    st = statement_deterministic(pk, m, big, B)
    monkeypatch.setattr(protocol, "MAX_ATTEMPTS", 20)
    with pytest.raises((ProvingFailed, AssertionError)):
        protocol._prove_checked(st, protocol._Ctx.of(st), Csprng(), _secret(m, big), norm2(m))


# -- §9.5 replay ----------------------------------------------------------------------------

def test_replay_with_other_context_ciphertext_key_or_bound(n64, keys_n64):
    st, proof, data = n64.statement, n64.proof, n64.data
    pk = st.public_key

    def same(**over):
        f = dict(params=st.params, public_key=pk, ciphertexts=st.ciphertexts, bound=st.bound,
                 context=st.context) | over
        return NormStatement(**f)

    ctx = proof_context("v1", "agg", 1, "client-7")
    base = same(context=ctx)
    honest = prove(base, n64.m, n64.rand)
    assert verify(base, honest)
    hb = honest.to_bytes()
    others = {
        "round": proof_context("v1", "agg", 2, "client-7"),
        "client": proof_context("v1", "agg", 1, "client-8"),
        "aggregator": proof_context("v1", "agg2", 1, "client-7"),
        "version": proof_context("v2", "agg", 1, "client-7"),
        "empty": b"",
    }
    for label, c in others.items():
        s = same(context=c)
        for pr in (honest, hb):
            v = verify(s, pr)
            assert not v and v.reason == "proof_invalid", label
    # another encryption of the same plaintext
    ct2, _ = encrypt_with_randomness(pk, n64.m)
    s = same(ciphertexts=ct2)
    assert verify(s, proof).reason == "proof_invalid"
    assert verify(s, data).reason == "proof_invalid"
    # another public key
    _, pk2 = keygen(st.params, Csprng.from_seed(b"zk-tests", b"other-key"))
    s = NormStatement(st.params, pk2, st.ciphertexts, st.bound, st.context)
    assert verify(s, proof).reason == "proof_invalid"
    # another bound B (object: statement_mismatch; bytes: header mismatch)
    for b in (st.bound + 1, st.bound - 1, 2 * st.bound):
        s = same(bound=b)
        assert verify(s, proof).reason == "statement_mismatch"
        assert verify(s, data).reason == "malformed"
    # another chunk count
    s = same(ciphertexts=Ciphertexts(st.params, st.ciphertexts.c0[:2],
                                     st.ciphertexts.c1[: st.params.groups(2)]))
    assert verify(s, proof).reason == "statement_mismatch"
    assert verify(s, data).reason == "malformed"


def test_proof_object_with_lied_header_fields_is_statement_mismatch(n64):
    """A NormProof whose (params, k, B) disagree with the statement never reaches the math."""
    for over in (dict(bound=n64.proof.bound + 1), dict(k=n64.proof.k - 1)):
        v = verify(n64.statement, replace(n64.proof, **over))
        assert not v and v.reason == "statement_mismatch"


def test_statement_with_unsound_bound_cannot_be_built(n64):
    """B above the no-wrap limit (2·B_arp² ≥ q) is refused when the statement is built, a
    typed error before any proof is looked at (F4), while the largest sound B is fine."""
    st = n64.statement
    zk = zk_params_for(st.params)
    lo, hi = 1, 1 << 34  # the largest sound B
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            zk.bounds(st.k, mid)
            lo = mid
        except ValueError:
            hi = mid
    assert 2 * zk.bounds(st.k, lo).arp_bound_message ** 2 < st.params.q
    for bad in (lo + 1, 1 << 31, 1 << 33):
        with pytest.raises(ValueError, match="no-wrap|bind"):
            NormStatement(st.params, st.public_key, st.ciphertexts, bad, st.context)
    NormStatement(st.params, st.public_key, st.ciphertexts, lo, st.context)


def test_replay_across_parameter_sets(n64, n256):
    v = verify(n256.statement, n64.proof)
    assert not v and v.reason == "statement_mismatch"
    assert verify(n256.statement, n64.data).reason == "malformed"


# -- §9.6 cheap checks first ----------------------------------------------------------------

@pytest.fixture
def no_heavy_work(monkeypatch):
    """The expensive parts of verification raise if called."""
    def boom(*args, **kwargs):
        raise AssertionError("heavy verification work started before the cheap checks")
    monkeypatch.setattr(protocol, "_challenge_recomputes", boom)
    monkeypatch.setattr(protocol, "jl_combine", boom)
    monkeypatch.setattr(protocol, "_Relation", boom)


@pytest.mark.parametrize("block", ["m", "e1", "u", "e2", "r"])
def test_coefficient_beyond_the_encoding_is_rejected_before_heavy_work(n64, no_heavy_work,
                                                                       block):
    """An in-process proof with one response coefficient above z_inf (what the encoding
    could carry), its block's L2 norm still within bounds: rejected by the per-coefficient
    check before any product — the exact-product engines are sized for |z| ≤ z_inf."""
    p = n64.proof
    bnds = zk_params_for(n64.params).bounds(p.k, p.bound)
    z = np.zeros_like(p.z[block])
    z.flat[0] = bnds.z_inf_bound[block] + 1
    assert protocol._l2(z) <= bnds.z_norm_bound[block]  # only the coefficient check sees it
    bad = replace(p, z=dict(p.z, **{block: z}))
    assert verify(n64.statement, bad) == Verdict(False, "response_too_large")


def test_nonzero_constant_of_h_rejected_before_heavy_work(n64, no_heavy_work):
    p = n64.proof
    for r in range(p.h.shape[0]):
        for j in range(p.h.shape[1]):
            bad = replace(p, h=_bump(p.h, (r, j, 0), 1, n64.params.primes[j]))
            assert verify(n64.statement, bad).reason == "relation_nonzero"
    bad = replace(p, h=_bump(p.h, (p.h.shape[0] - 1, 0, 0), -1, n64.params.primes[0]))
    assert verify(n64.statement, bad.to_bytes()).reason == "relation_nonzero"


def test_noncanonical_challenge_rejected_before_heavy_work(n64, no_heavy_work):
    from test_zk_codec import _challenge_bytes
    pairs = list(n64.proof.c.pairs)
    n = zk_params_for(n64.params).d
    for bad in ([pairs[1], pairs[0], *pairs[2:]], [pairs[0], pairs[0], *pairs[2:]],
                [0, *pairs[1:]], [*pairs[:-1], n // 2], [*pairs[:-1], 0xFFFF]):
        assert verify(n64.statement, _challenge_bytes(n64, bad)).reason == "malformed"
    w = len(pairs)
    if w % 8:
        assert verify(n64.statement, _challenge_bytes(n64, pairs, 1 << w)).reason == "malformed"


def test_challenge_of_wrong_weight_or_ring_is_malformed(n64, no_heavy_work):
    c = n64.proof.c
    for bad in (Challenge(c.n, c.pairs[:-1], c.signs[:-1]), Challenge(2 * c.n, c.pairs, c.signs),
                Challenge(c.n // 2, c.pairs[:3], c.signs[:3])):
        assert verify(n64.statement, replace(n64.proof, c=bad)).reason == "malformed"
    # v2's tuple of challenges is no longer a challenge
    assert verify(n64.statement, replace(n64.proof, c=(c,))).reason == "malformed"


def test_challenge_with_large_operator_norm_rejected_before_heavy_work(n64, no_heavy_work):
    """If the challenge set is restricted to ‖c‖_op ≤ η (C' ⊂ C), a c ∈ C \\ C' is rejected
    by a cheap check."""
    challenge_mod = pytest.importorskip("zkflpq.zk.challenge")
    if not hasattr(challenge_mod, "operator_norm"):
        pytest.skip("no operator-norm restriction on the challenge set")
    zk = zk_params_for(n64.params)
    n, w = zk.d, zk.challenge_weight
    c = Challenge(n, tuple(range(n // 2 - w, n // 2)), (1,) * w)  # all aligned near Y^{d/2}
    assert challenge_mod.operator_norm(c.dense()) > zk.eta
    bad = replace(n64.proof, c=c)
    v = verify(n64.statement, bad)
    assert not v and v.reason == "challenge_invalid"
    assert verify(n64.statement, bad.to_bytes()).reason in {
        "challenge_invalid", "malformed"}


def test_oversized_responses_rejected_before_heavy_work(n64, no_heavy_work):
    p = n64.proof
    zk = zk_params_for(n64.params)
    bnds = zk.bounds(p.k, p.bound)
    for b in Z_BLOCKS:
        z = {k: v.copy() for k, v in p.z.items()}
        z[b] = np.full_like(z[b], int(2 * bnds.sigma[b]))  # ‖z_b‖ = 2σ√n > 1.3σ√n
        bad = replace(p, z=z)
        assert verify(n64.statement, bad).reason == "response_too_large", b
        assert verify(n64.statement, bad.to_bytes()).reason == "response_too_large", b
        z[b] = p.z[b] * 2  # a scaled honest response, ‖z_b‖ ≈ 2σ√n
        assert verify(n64.statement, replace(p, z=z)).reason == "response_too_large", b
    for f, key in (("z_jm", "m"), ("z_je", "e")):
        bad = replace(p, **{f: np.full(256, int(2 * bnds.jl_sigma[key]), dtype=np.int64)})
        assert verify(n64.statement, bad).reason == "jl_too_large", f
        assert verify(n64.statement, bad.to_bytes()).reason == "jl_too_large", f


def test_malformed_objects_rejected_before_heavy_work(n64, no_heavy_work):
    p = n64.proof
    zk = zk_params_for(n64.params)
    prime0 = n64.params.primes[0]
    bads = {
        "t0-shape": replace(p, t0=p.t0[:, :, :-1]),
        "t_msg-rows": replace(p, t_msg=p.t_msg[:-1]),
        "h-rows": replace(p, h=np.concatenate([p.h, p.h[:1]])),
        "z_jm-len": replace(p, z_jm=p.z_jm[:-1]),
        "residue=p": replace(p, t_G1=_bump(p.t_G1, (0, 0, 3), prime0 - p.t_G1[0, 0, 3])),
        "residue<0": replace(p, t0=_bump(p.t0, (0, 0, 0), -p.t0[0, 0, 0] - 1)),
        "z-missing": replace(p, z={k: v for k, v in p.z.items() if k != "r"}),
        "z-extra": replace(p, z=p.z | {"x": p.z["u"]}),
        "z-shape": replace(p, z=p.z | {"m": p.z["m"][:, :-1]}),
        "z-rows": replace(p, z=p.z | {"m": p.z["m"][:-1]}),
        "z-v2-reps": replace(p, z=p.z | {"m": p.z["m"][None]}),  # (R, k, N) of v2
        "z-u-per-chunk": replace(p, z=p.z | {"u": p.z["m"]}),  # (k, N), not (g, N)
        "z-r-degree-N": replace(p, z=p.z | {"r": np.zeros((p.z["r"].shape[0], 2 * zk.d),
                                                         dtype=np.int64)}),
    }
    for label, bad in bads.items():
        v = verify(n64.statement, bad)
        assert not v and v.reason == "malformed", label


def test_cheap_checks_do_not_reject_honest_proofs(n64, no_heavy_work):
    """Control: with heavy work forbidden, the honest proof gets as far as the heavy part."""
    with pytest.raises(AssertionError, match="heavy verification"):
        verify(n64.statement, n64.proof)


# -- in-process objects of the wrong types (never an exception) ------------------------------

def _bad_objects(p, zk):
    c = p.c
    z = p.z
    yield "t0-object", dict(t0=p.t0.astype(object))
    yield "t0-complex", dict(t0=p.t0.astype(np.complex128))
    yield "t0-int32", dict(t0=p.t0.astype(np.int32))
    yield "t0-bool", dict(t0=p.t0.astype(bool))
    yield "t_msg-float", dict(t_msg=p.t_msg.astype(np.float64))  # float-valued commitment
    yield "t_G1-float", dict(t_G1=p.t_G1.astype(np.float64))
    yield "t_G1-float+0.5", dict(t_G1=p.t_G1 + 0.5)
    yield "h-float", dict(h=p.h.astype(np.float32))
    yield "t_msg-None", dict(t_msg=None)
    yield "h-list", dict(h=p.h.tolist())
    yield "t0-tuple", dict(t0=tuple(p.t0))
    yield "z_jm-float", dict(z_jm=p.z_jm.astype(np.float64))
    yield "z_jm-object", dict(z_jm=p.z_jm.astype(object))
    yield "z_je-complex", dict(z_je=p.z_je.astype(np.complex64))
    yield "z_je-None", dict(z_je=None)
    yield "z_je-list", dict(z_je=p.z_je.tolist())
    yield "z-None", dict(z=None)
    yield "z-list", dict(z=list(z.values()))
    yield "z-tuple-items", dict(z=tuple(z.items()))
    yield "z[m]-float", dict(z=z | {"m": z["m"].astype(np.float64)})
    yield "z[e1]-complex", dict(z=z | {"e1": z["e1"].astype(np.complex128)})
    yield "z[u]-list", dict(z=z | {"u": z["u"].tolist()})
    yield "z[e2]-None", dict(z=z | {"e2": None})
    yield "z[r]-object", dict(z=z | {"r": z["r"].astype(object)})
    yield "z[r]-uint64", dict(z=z | {"r": z["r"].astype(np.uint64)})
    yield "c-None", dict(c=None)
    yield "c-tuple", dict(c=(c,))
    yield "c-list", dict(c=[c])
    yield "c-dense", dict(c=c.dense())
    yield "c-bytes", dict(c=c.encode())
    yield "c-int", dict(c=1)
    yield "c-other-ring", dict(c=Challenge(2 * zk.d, c.pairs, c.signs))
    yield "c-light", dict(c=Challenge(c.n, c.pairs[:-1], c.signs[:-1]))


def _bad_object_labels():
    fake = type("P", (), {"t0": np.zeros(1), "t_msg": np.zeros(1), "t_G1": np.zeros(1),
                          "h": np.zeros(1), "z_jm": np.zeros(1), "z_je": np.zeros(1),
                          "z": {"m": np.zeros(1), "e1": np.zeros(1), "u": np.zeros(1),
                                "e2": np.zeros(1), "r": np.zeros(1)},
                          "c": Challenge(64, (1, 2), (1, 1))})()
    return [label for label, _ in _bad_objects(fake, type("Z", (), {"d": 64})())]


@pytest.mark.parametrize("label", _bad_object_labels())
def test_in_process_objects_of_wrong_types_are_malformed(n64, no_heavy_work, label):
    """A NormProof built in-process (dataclasses.replace) with object/complex/float
    dtypes, None or list fields, float-valued commitments or a wrong-typed c is
    Verdict(False, "malformed") — no exception, no silent conversion, no heavy work."""
    zk = zk_params_for(n64.params)
    changes = dict(_bad_objects(n64.proof, zk))[label]
    v = verify(n64.statement, dataclasses.replace(n64.proof, **changes))
    assert v == protocol.Verdict(False, "malformed"), v


def test_in_process_non_contiguous_arrays_still_verify(n64):
    """Control: the type checks refuse what is not an int64 residue array, not a valid
    array that merely has another memory layout."""
    p = n64.proof

    def strided(a):
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=np.int64)
        wide[..., ::2] = a
        return wide[..., ::2]

    odd = dataclasses.replace(
        p, t0=np.asfortranarray(p.t0), t_msg=strided(p.t_msg), h=p.h[::-1][::-1],
        z_jm=strided(p.z_jm), z={b: np.asfortranarray(a) for b, a in p.z.items()})
    assert not odd.t_msg.flags.c_contiguous and not odd.z_jm.flags.c_contiguous
    assert verify(n64.statement, odd)


# -- the statement refuses non-canonical residues ---------------------------------------------

def _noncanonical(arr: np.ndarray, primes, how: str) -> np.ndarray:
    """arr with one entry replaced by another representative of the same residue (or the
    whole array as floats)."""
    if how == "float":
        return arr.astype(np.float64)
    out = arr.copy()
    idx = (0,) * (arr.ndim - 2)
    L = len(primes)
    i = L - 1  # the last prime (the check must cover every prime, not just the first)
    p = primes[i]
    out[idx + (i, 5)] += p if how == "p+x" else -p
    assert (out[idx + (i, 5)] - arr[idx + (i, 5)]) % p == 0
    return out


@pytest.mark.parametrize("how", ["p+x", "negative", "float"])
@pytest.mark.parametrize("where", ["c0", "c1", "pk.a", "pk.b"])
def test_statement_refuses_noncanonical_residues(n64, where, how):
    st = n64.statement
    params, pk, ct = st.params, st.public_key, st.ciphertexts
    primes = params.primes
    if where == "c0":
        ct = Ciphertexts(params, _noncanonical(ct.c0, primes, how), ct.c1)
    elif where == "c1":
        ct = Ciphertexts(params, ct.c0, _noncanonical(ct.c1, primes, how))
    elif where == "pk.a":
        pk = PublicKey(params, _noncanonical(pk.a, primes, how), pk.b)
    else:
        pk = PublicKey(params, pk.a, _noncanonical(pk.b, primes, how))
    with pytest.raises(ValueError, match="residues"):
        NormStatement(params, pk, ct, st.bound, st.context)


def test_statement_refuses_other_integer_dtypes_and_accepts_canonical_copies(n64):
    st = n64.statement
    params, pk, ct = st.params, st.public_key, st.ciphertexts
    for dtype in (np.int32, np.uint32, np.uint64, object):
        with pytest.raises(ValueError, match="residues"):
            NormStatement(params, pk, Ciphertexts(params, ct.c0.astype(dtype), ct.c1),
                          st.bound, st.context)
    copy = NormStatement(params, PublicKey(params, pk.a.copy(), pk.b.copy()),
                         Ciphertexts(params, ct.c0.copy(), ct.c1.copy()), st.bound, st.context)
    assert verify(copy, n64.data)


# -- a ciphertext group tampered with -----------------------------------------------------------

@pytest.fixture(scope="module")
def grouped(keys_n64):
    """k = 5 chunks at N = 64, L' = 3: a full group (chunks 0–2) and a partial one (3, 4)."""
    _, pk = keys_n64
    B = 2000
    m = chunked(pk.params, vector_with_norm(np.random.default_rng(95), 300, B * B - 1))
    st, rand = statement_for(pk, m, B, rng=Csprng.from_seed(b"groups", b"enc"))
    proof = prove(st, m, rand, Csprng.from_seed(b"groups", b"prove"))
    assert len(st.ciphertexts) == 5 and st.ciphertexts.groups == 2
    assert proof.z["u"].shape == proof.z["e2"].shape == (2, pk.params.n)
    assert proof.z["m"].shape == proof.z["e1"].shape == (5, pk.params.n)
    assert verify(st, proof)
    return st, proof, proof.to_bytes()


def _swapped(a: np.ndarray, i: int, j: int) -> np.ndarray:
    out = a.copy()
    out[[i, j]] = out[[j, i]]
    return out


def _tampered_groups(st):
    """(label, c0, c1) for tampered ciphertext groups of the `grouped` statement."""
    ct, params = st.ciphertexts, st.params
    primes = params.primes
    for i in (0, 2, 3, 4):  # first/last chunk of each group
        c0 = ct.c0.copy()
        c0[i, 1, 7] = (c0[i, 1, 7] + 1) % primes[1]
        yield f"c0[{i}]+1", c0, ct.c1
    for i, j in ((0, 1), (2, 3), (3, 4), (0, 4)):  # within and across groups
        yield f"swap c0[{i}]<->c0[{j}]", _swapped(ct.c0, i, j), ct.c1
    yield "swap c1[0]<->c1[1]", ct.c0, _swapped(ct.c1, 0, 1)
    yield "c1[1]=c1[0]", ct.c0, np.stack([ct.c1[0], ct.c1[0]])
    other, _ = encrypt_with_randomness(st.public_key, np.zeros((len(ct), params.n), np.int64))
    yield "c1[0] from another encryption", ct.c0, np.stack([other.c1[0], ct.c1[1]])
    yield "group 1 from another encryption", np.concatenate([ct.c0[:3], other.c0[3:]]), \
        np.stack([ct.c1[0], other.c1[1]])
    # k − 1 chunks (the groups still line up: ⌈4/3⌉ = 2)
    yield "drop last chunk", ct.c0[:-1], ct.c1
    yield "drop first chunk", ct.c0[1:], ct.c1
    yield "drop chunk 3", np.delete(ct.c0, 3, axis=0), ct.c1
    # a chunk dropped together with the group it was the last of
    yield "drop chunks 3-4 and group 1", ct.c0[:3], ct.c1[:1]
    # shapes that no Ciphertexts can have
    yield "drop last chunk and c1[1]", ct.c0[:-1], ct.c1[:1]
    yield "drop c1[1]", ct.c0, ct.c1[:1]
    yield "extra c1", ct.c0, np.concatenate([ct.c1, ct.c1[:1]])


def test_tampered_ciphertext_groups_are_never_accepted(grouped):
    """A chunk's c0 changed, chunks reordered (within or across groups), a chunk dropped
    (k − 1 chunks), or a group's c1 swapped or replaced: verification rejects, or the
    statement cannot even be built — never accepts, never raises."""
    st, proof, data = grouped
    reasons = {}
    for label, c0, c1 in _tampered_groups(st):
        try:
            bad = NormStatement(st.params, st.public_key, Ciphertexts(st.params, c0, c1),
                                st.bound, st.context)
        except ValueError:
            reasons[label] = "unbuildable"
            continue
        v_obj, v_bytes = verify(bad, proof), verify(bad, data)
        assert not v_obj and v_obj.reason in REJECT, (label, v_obj)
        assert not v_bytes and v_bytes.reason in REJECT, (label, v_bytes)
        if len(c0) == len(st.ciphertexts):
            assert v_obj.reason == v_bytes.reason == "proof_invalid", label
        else:  # the proof is for k chunks
            assert v_obj.reason == "statement_mismatch" and v_bytes.reason == "malformed"
        reasons[label] = v_obj.reason
    assert len(reasons) >= 18
    assert {reasons[x] for x in ("drop last chunk and c1[1]", "drop c1[1]", "extra c1")} \
        == {"unbuildable"}
    assert verify(st, proof) and verify(st, data)  # control: the untampered statement
