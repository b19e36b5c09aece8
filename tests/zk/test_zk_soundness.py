"""Soundness and binding tests of the verifier (spec §9 items 1–6).

Where a test targets one verifier check, it also shows that the cheating proof passes
everything else (`unchecked_verify`: the challenge recomputation alone accepts it), so
the test fails if that check is removed — not merely because the reason code changes.
"""

from __future__ import annotations

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
from zkflpq.bfv import EncryptionRandomness, encrypt_with_randomness, keygen
from zkflpq.ring import Csprng
from zkflpq.zk import (
    NormBoundExceeded,
    NormStatement,
    ProvingFailed,
    proof_context,
    prove,
    verify,
    zk_params_for,
)
from zkflpq.zk.bdlop import commitment_key
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
        # z[b] is (R, rows, N): one coefficient of the first and of the last repetition.
        picks = [(0, 0, 0), tuple(d - 1 for d in arr.shape)][: 1 if positions == "one" else 2]
        if positions == "many":
            picks.append(tuple(int(rng.integers(d)) for d in arr.shape))
        for idx in picks:
            for d in deltas:
                z = {k: v.copy() for k, v in p.z.items()}
                z[b] = _bump(arr, idx, d)
                yield f"z[{b}]{idx}{d:+d}", replace(p, z=z), {"proof_invalid"}
    # c: one coefficient pair changes sign, or moves by ±1 to a free index. The result is
    # in C; it may fall outside C' (operator norm), which is a rejection too.
    c = p.c[-1]  # the last repetition's challenge (the others are unchanged)

    def with_c(new: Challenge):
        return replace(p, c=p.c[:-1] + (new,))

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
    # nonce: another value (whether or not it happens to pass the proof of work, the
    # challenges are derived after it and no longer match)
    for d in deltas:
        yield f"nonce({d:+d})", replace(p, nonce=(p.nonce + d) % (1 << 64)), {"proof_invalid"}


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
    assert covered >= {"t0", "t_msg", "t_G1", "h", "z_jm", "z_je", "c", "z", "nonce"}
    assert set(FIELDS) <= covered
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
    # Splicing: only one of the two chunks swapped.
    spliced = st_ok.ciphertexts.data.copy()
    spliced[1] = ct_big.data[1]
    st_mix = NormStatement(pk.params, pk, type(ct_big)(pk.params, spliced), B, CTX)
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
    monkeypatch.setattr(protocol, "four_squares", lambda n: real(abs(n)) if n < 0 else real(n))
    zk = zk_params_for(st.params)
    with pytest.raises(AssertionError, match="constant term"):
        protocol._prove_checked(st, zk, zk.bounds(st.k, st.bound), protocol.ring_of(st.params),
                                commitment_key(zk), Csprng(), m, norm2(m), rand.u, rand.e1,
                                rand.e2)


class _SendRawH(TwinProver):
    """‖m‖ > B with a = 0 (no four-square completion exists): h is sent as computed."""

    def completion(self, B, norm2_m, n):
        return np.zeros(n, dtype=np.int64)

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

    def completion(self, B, norm2_m, n):
        a = np.zeros(n, dtype=np.int64)
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


def _scaled(rand, block, scale):
    parts = {"u": rand.u, "e1": rand.e1, "e2": rand.e2}
    parts[block] = parts[block] * int(scale)
    return EncryptionRandomness(**parts)


@pytest.mark.parametrize("block", ["u", "e1", "e2"])
def test_large_noise_is_rejected(noisy, block):
    """§9.3: encrypt_deterministic with one noise block far above the public bound, so that
    ‖c·e‖ ≈ 2·T_block (T_block the response bound). The Σ-protocol masks are block-
    normalised (σ_b√n_b = α·η·β_b·√n_total), so the response check alone would only fire
    at a noise norm of about T_block/‖c‖ — hundreds of times β_b; the JL bound (the proven
    noise bound) is the tighter one and fires first. The response bound of each block is
    exercised on its own by test_oversized_responses_are_response_too_large."""
    pk, m, rand, B = noisy
    zk = zk_params_for(pk.params)
    bnds = zk.bounds(m.shape[0], B)
    base = {"u": rand.u, "e1": rand.e1, "e2": rand.e2}[block]
    scale = 2 * bnds.z_norm_bound[block] / (np.sqrt(2 * zk.challenge_weight) * np.linalg.norm(base))
    big = _scaled(rand, block, np.ceil(scale))
    st = statement_deterministic(pk, m, big, B)
    with pytest.raises(ProvingFailed):
        prove(st, m, big)  # the honest prover refuses (noise check)
    proof = IgnoreAllBounds(Csprng.from_seed(b"noise", block.encode())).prove(st, m, big)
    v = verify(st, proof)
    assert not v and v.reason == "jl_too_large", v
    assert unchecked_verify(st, proof)  # only the JL bound stands in the way


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
    zk = zk_params_for(pk.params)
    monkeypatch.setattr(protocol, "MAX_ATTEMPTS", 20)
    with pytest.raises((ProvingFailed, AssertionError)):
        protocol._prove_checked(st, zk, zk.bounds(st.k, B), protocol.ring_of(pk.params),
                                commitment_key(zk), Csprng(), m, norm2(m), big.u, big.e1, big.e2)


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
    s = same(ciphertexts=type(st.ciphertexts)(st.params, st.ciphertexts.data[:2]))
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
    with pytest.raises(ValueError, match="no-wrap"):
        NormStatement(st.params, st.public_key, st.ciphertexts, 1 << 33, st.context)
    NormStatement(st.params, st.public_key, st.ciphertexts, 1 << 30, st.context)


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


@pytest.mark.parametrize("nonce", [-1, 1 << 64, 2.0])
def test_nonce_outside_u64_is_malformed_before_heavy_work(n64, no_heavy_work, nonce):
    """A decoded proof always has a u64 nonce; a NormProof object may not, and must be
    refused as malformed by the cheap shape checks (not crash in the transcript)."""
    v = verify(n64.statement, replace(n64.proof, nonce=nonce))
    assert not v and v.reason == "malformed"


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
    pairs = list(n64.proof.c[0].pairs)
    n = n64.params.n
    for bad in ([pairs[1], pairs[0], *pairs[2:]], [pairs[0], pairs[0], *pairs[2:]],
                [0, *pairs[1:]], [*pairs[:-1], n // 2], [*pairs[:-1], 0xFFFF]):
        assert verify(n64.statement, _challenge_bytes(n64, bad)).reason == "malformed"
    w = len(pairs)
    if w % 8:
        assert verify(n64.statement, _challenge_bytes(n64, pairs, 1 << w)).reason == "malformed"


def test_challenge_of_wrong_weight_or_ring_is_malformed(n64, no_heavy_work):
    c = n64.proof.c[0]
    for bad in (Challenge(c.n, c.pairs[:-1], c.signs[:-1]), Challenge(2 * c.n, c.pairs, c.signs)):
        assert verify(n64.statement, replace(n64.proof, c=(bad,) + n64.proof.c[1:])).reason \
            == "malformed"
    assert verify(n64.statement, replace(n64.proof, c=n64.proof.c[:-1])).reason == "malformed"


def test_challenge_with_large_operator_norm_rejected_before_heavy_work(n64, no_heavy_work):
    """If the challenge set is restricted to ‖c‖_op ≤ η (C' ⊂ C), a c ∈ C \\ C' is rejected
    by a cheap check."""
    challenge_mod = pytest.importorskip("zkflpq.zk.challenge")
    if not hasattr(challenge_mod, "operator_norm"):
        pytest.skip("no operator-norm restriction on the challenge set")
    zk = zk_params_for(n64.params)
    n, w = zk.n, zk.challenge_weight
    c = Challenge(n, tuple(range(n // 2 - w, n // 2)), (1,) * w)  # all aligned near X^{N/2}
    assert challenge_mod.operator_norm(c.dense()) > zk.eta
    bad = replace(n64.proof, c=(c,) + n64.proof.c[1:])
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
        "z-shape": replace(p, z=p.z | {"m": p.z["m"][:, :, :-1]}),
        "z-reps": replace(p, z=p.z | {"m": p.z["m"][:-1]}),
    }
    for label, bad in bads.items():
        v = verify(n64.statement, bad)
        assert not v and v.reason == "malformed", label


def test_cheap_checks_do_not_reject_honest_proofs(n64, no_heavy_work):
    """Control: with heavy work forbidden, the honest proof gets as far as the heavy part."""
    with pytest.raises(AssertionError, match="heavy verification"):
        verify(n64.statement, n64.proof)
