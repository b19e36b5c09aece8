"""End to end on loopback with real uvicorn processes: a full round, idempotency, retries
after timeouts, kill -9 and restart, and every rejection's specific 4xx (never a 500)."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import httpx
import numpy as np
import pytest
from svc_helpers import D, open_round, update_for

from zkflpq.agent import AggregatorClient, ClientAgent, ProtocolError, RetryPolicy
from zkflpq.protocol import (
    HEADER_SEALED,
    HEADER_SENDER,
    HEADER_TIMESTAMP,
    SEALED_MEDIA_TYPE,
    b64e,
    decode_envelope,
    encode_envelope,
    now,
    seal_request,
    signed_request_envelope,
)

pytestmark = pytest.mark.timeout(300)


def raw_post(client: AggregatorClient, path: str, plaintext: bytes | None, *,
             ts: int | None = None, sender: str | None = None, body: bytes | None = None,
             mutate: Any = None, headers: dict[str, str] | None = None
             ) -> tuple[httpx.Response, dict[str, Any] | None]:
    """Seal ``plaintext`` like the agent does (or send ``body`` verbatim)."""
    p = client.params()
    ts = now() if ts is None else ts
    sender = sender or client.client_id
    rk = ctx = None
    if body is None:
        assert plaintext is not None
        body, rk, ctx = seal_request(p.kem_pk, "POST", path, sender, ts, plaintext)
    if mutate is not None:
        body = mutate(body)
    h = {HEADER_SENDER: sender, HEADER_TIMESTAMP: str(ts), "Content-Type": SEALED_MEDIA_TYPE}
    h.update(headers or {})
    r = httpx.post(client.url + path, content=body, headers=h, timeout=60)
    meta = None
    if r.headers.get("content-type", "").startswith(SEALED_MEDIA_TYPE) and rk is not None:
        meta = decode_envelope(rk.open(r.content, ctx)).meta
    elif r.headers.get("content-type", "").startswith("application/json"):
        meta = r.json()
    return r, meta


def reason_of(r: httpx.Response, meta: dict[str, Any] | None) -> str | None:
    return (meta or {}).get("error") or r.headers.get("x-zkflpq-reason")


# -- the happy path ---------------------------------------------------------------------
def test_round_end_to_end_and_model_is_prev_plus_mean(dep: Any, clients: Any) -> None:
    cfg = open_round(dep, k_min=3, seed=1)
    rid = cfg["round_id"]
    cs = [clients.new() for _ in range(3)]
    updates = []
    for i, c in enumerate(cs):
        u = np.random.default_rng(100 + i).normal(size=D).astype(np.float32)
        u *= 0.4 / np.linalg.norm(u)
        updates.append(u)
        rep = ClientAgent(c, lambda m, cfg, u=u: u).run_round()
        assert rep.accepted, rep.result
        assert rep.result.status == 202 and rep.round_id == rid
    # the model a client downloads is the round's start model
    start, meta = cs[0].model(rid)
    assert meta["d"] == D and start.shape == (D,)
    with dep.admin() as admin:
        st = admin.status(rid)
        assert st["accepted"] == 3 and st["state"] == "open" and st["rejected"] == {}
        closed = admin.close_round(rid)
        assert closed["state"] == "closed" and closed["n_summed"] == 3
        new = admin.model(rid, "result")
        # previous + mean of the accepted updates (quantisation error ≤ 1/(2·scale))
        expect = start.astype(np.float64) + np.mean(updates, axis=0)
        assert np.max(np.abs(new - expect)) <= 1 / cfg["scale"] + 1e-6
        # the key authority's audit knows exactly this decryption
        dec = [x for x in admin.decryptions() if x["round_id"] == rid]
        assert len(dec) == 1 and dec[0]["n_summed"] == 3
        assert sorted(dec[0]["client_ids"]) == sorted(c.client_id for c in cs)
        with pytest.raises(ProtocolError) as e:
            admin.close_round(rid)
        assert e.value.status == 409
    # a client sees the published model too
    res, _ = cs[1].model(rid, stage="result")
    assert np.array_equal(res, new)
    for c in cs:
        c.close()


def test_openapi_metrics_health(dep: Any) -> None:
    url = dep.aggregator.url
    spec = httpx.get(f"{url}/openapi.json").json()
    for path in ("/v1/params", "/v1/clients", "/v1/rounds", "/v1/rounds/current",
                 "/v1/rounds/{round_id}", "/v1/rounds/{round_id}/model",
                 "/v1/rounds/{round_id}/updates", "/v1/rounds/{round_id}/close", "/healthz",
                 "/metrics"):
        assert path in spec["paths"], path
    assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
    m = httpx.get(f"{url}/metrics").text
    assert "zkflpq_submissions_total" in m and "zkflpq_http_requests_total" in m
    ka_spec = httpx.get(f"{dep.ka.url}/openapi.json").json()
    assert "/v1/decryptions" in ka_spec["paths"]


# -- poisoning --------------------------------------------------------------------------
def test_oversized_update_rejected_by_proof_verification(dep: Any, clients: Any) -> None:
    from zkflpq import zk

    cfg = open_round(dep, seed=2)
    c = clients.new()
    # an honest prover refuses to prove an over-bound update: nothing is sent
    big = np.full(D, 10.0, dtype=np.float32)
    agent = ClientAgent(c, lambda m, cfg: big, clip=False,
                        build=lambda pk, u, tau, scale, ctx: _honest_unclipped(pk, u, tau,
                                                                               scale, ctx))
    with pytest.raises(zk.NormBoundExceeded):
        agent.run_round()
    # the attacker: oversized ciphertexts + a proof made for the clipped update
    ct, proof, _ = update_for(c, cfg, seed=5, norm=40.0, forged=True)
    res = c.submit(cfg["round_id"], ct, proof)
    assert res.status == 422 and res.reason == "proof_invalid"
    # resending it gets the same verdict (idempotent), never accepted
    again = c.submit(cfg["round_id"], ct, proof)
    assert again.status == 422 and again.reason == "proof_invalid"
    assert again.meta["replayed"] is True
    with dep.admin() as admin:
        st = admin.status(cfg["round_id"])
        assert st["accepted"] == 0 and st["rejected"]["proof_invalid"] >= 1
        assert any(r["reason"] == "proof_invalid" for r in st["rejections"])
    c.close()


def _honest_unclipped(pk: Any, u: np.ndarray, tau: float, scale: float, ctx: bytes) -> Any:
    from zkflpq import zk

    return zk.encrypt_and_prove(pk, u, tau, scale, ctx)


# -- idempotency, duplicates, retries -----------------------------------------------------
def test_identical_resubmission_returns_original_verdict(dep: Any, clients: Any) -> None:
    cfg = open_round(dep, seed=3)
    c = clients.new()
    ct, proof, _ = update_for(c, cfg, seed=1)
    first = c.submit(cfg["round_id"], ct, proof)
    assert first.status == 202 and first.meta["replayed"] is False
    # same content, fresh signature/nonce/timestamp: same idempotency key → same verdict
    second = c.submit(cfg["round_id"], ct, proof)
    assert second.status == 202 and second.meta["replayed"] is True
    assert second.meta["submission"] == first.meta["submission"]
    # a *different* update from the same client in the same round: 409
    ct2, proof2, _ = update_for(c, cfg, seed=2)
    third = c.submit(cfg["round_id"], ct2, proof2)
    assert third.status == 409 and third.reason == "duplicate"
    with dep.admin() as admin:
        assert admin.status(cfg["round_id"])["accepted"] == 1
    c.close()


class _LoseFirstResponse(httpx.BaseTransport):
    """Delivers every request; the first response is 'lost' (ReadTimeout), like a client
    whose read timeout fired while the server was still verifying."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.posts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        resp = self.inner.handle_request(request)
        if request.method == "POST":
            self.posts += 1
            if self.posts == 1:
                resp.read()
                resp.close()
                raise httpx.ReadTimeout("simulated timeout", request=request)
        return resp


def test_retry_after_timeout_gets_original_verdict(dep: Any, clients: Any) -> None:
    cfg = open_round(dep, seed=4)
    transport = _LoseFirstResponse()
    c = clients.new(transport=transport, retry=RetryPolicy(attempts=4, backoff_s=0.05))
    ct, proof, _ = update_for(c, cfg, seed=1)
    res = c.submit(cfg["round_id"], ct, proof)
    assert transport.posts == 2 and res.attempts == 2
    assert res.status == 202 and res.meta["replayed"] is True
    with dep.admin() as admin:
        st = admin.status(cfg["round_id"])
    assert st["accepted"] == 1 and st["rejected"] == {}
    # and a rejected update's retry gets its original rejection
    t2 = _LoseFirstResponse()
    c2 = clients.new(transport=t2)
    ct, proof, _ = update_for(c2, cfg, seed=9, norm=30.0, forged=True)
    res2 = c2.submit(cfg["round_id"], ct, proof)
    assert res2.attempts == 2 and res2.status == 422 and res2.reason == "proof_invalid"
    assert res2.meta["replayed"] is True
    c.close()
    c2.close()


def test_concurrent_identical_submissions_one_verification(dep: Any, clients: Any) -> None:
    cfg = open_round(dep, seed=5)
    c = clients.new(retry=RetryPolicy(attempts=8, backoff_s=0.05))
    ct, proof, _ = update_for(c, cfg, seed=1)
    ts = now()
    env = c.signed_update(cfg["round_id"], ct, proof, timestamp=ts)
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(
        c.submit_envelope(cfg["round_id"], env, ts))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status for r in results] == [202, 202, 202]
    assert sum(not r.meta["replayed"] for r in results) == 1
    with dep.admin() as admin:
        assert admin.status(cfg["round_id"])["accepted"] == 1
    c.close()


def test_kill_aggregator_mid_round_keeps_acknowledged_updates(dep: Any, clients: Any) -> None:
    cfg = open_round(dep, k_min=3, seed=6)
    rid = cfg["round_id"]
    cs = [clients.new() for _ in range(3)]
    acked = []
    sent = []
    for i, c in enumerate(cs[:2]):
        ct, proof, u = update_for(c, cfg, seed=10 + i)
        assert c.submit(rid, ct, proof).status == 202
        acked.append(u)
        sent.append((ct, proof))
    dep.restart_aggregator(kill=True)  # SIGKILL the server and its workers, then restart
    with dep.admin() as admin:
        st = admin.status(rid)
        assert st["state"] == "open" and st["accepted"] == 2
    # the killed process's acknowledged updates survive; the round goes on
    ct, proof, u = update_for(cs[2], cfg, seed=12)
    assert cs[2].submit(rid, ct, proof).status == 202
    acked.append(u)
    # a resubmission after the restart still gets its original verdict
    again = cs[0].submit(rid, *sent[0])
    assert again.status == 202 and again.meta["replayed"] is True
    with dep.admin() as admin:
        start = np.frombuffer(httpx.get(
            f"{dep.aggregator.url}/v1/rounds/{rid}/model",
            headers={"Authorization": f"Bearer {dep.token}"}).content, dtype="<f4")
        closed = admin.close_round(rid)
        assert closed["state"] == "closed" and closed["n_summed"] == 3
        new = admin.model(rid)
    assert np.max(np.abs(new - (start + np.mean(acked, axis=0)))) <= 1 / cfg["scale"] + 1e-6
    for c in cs:
        c.close()


# -- rejections: each its specific 4xx ------------------------------------------------------
def _envelope(c: AggregatorClient, cfg: dict[str, Any], **kw: Any) -> tuple[bytes, int]:
    ct, proof, _ = update_for(c, cfg, seed=kw.pop("seed", 1))
    ts = kw.pop("ts", now())
    # k_min given: the wrong-round cases sign for rounds the client cannot look up
    return c.signed_update(kw.pop("round_id", cfg["round_id"]), ct, proof, timestamp=ts,
                           k_min=cfg["k_min"]), ts


def test_transport_and_auth_rejections(dep: Any, clients: Any) -> None:
    cfg = open_round(dep, seed=7)
    rid = cfg["round_id"]
    path = f"/v1/rounds/{rid}/updates"
    c = clients.new()
    env, ts = _envelope(c, cfg)
    url = dep.aggregator.url

    # unauthenticated: no sender headers
    r = httpx.post(url + path, content=b"x" * 100)
    assert r.status_code == 401 and r.json()["error"] == "unauthenticated"
    # unenrolled sender
    r, m = raw_post(c, path, env, ts=ts, sender="client-00000000000000000000")
    assert r.status_code == 403 and reason_of(r, m) == "not_enrolled"
    # malformed: not a sealed message at all
    r, m = raw_post(c, path, None, ts=ts, body=b"hello world, not sealed")
    assert r.status_code == 400 and reason_of(r, m) == "malformed"
    # truncated sealed body
    r, m = raw_post(c, path, env, ts=ts, mutate=lambda b: b[: len(b) // 2])
    assert r.status_code == 400 and reason_of(r, m) == "truncated"
    # tampered: one flipped bit in the AEAD ciphertext
    r, m = raw_post(c, path, env, ts=ts,
                    mutate=lambda b: b[:-40] + bytes([b[-40] ^ 1]) + b[-39:])
    assert r.status_code == 400 and reason_of(r, m) == "tampered"
    # tampered header: the timestamp is bound into the seal's context
    sealed, _, _ = seal_request(c.params().kem_pk, "POST", path, c.client_id, ts, env)
    r, m = raw_post(c, path, None, ts=ts + 1, body=sealed)
    assert r.status_code == 400 and reason_of(r, m) == "tampered"
    # sealed for another path (replayed against a different round)
    other = f"/v1/rounds/{rid + 1000}/updates"
    r, m = raw_post(c, other, None, ts=ts, body=sealed)
    assert r.status_code == 400 and reason_of(r, m) == "tampered"
    # oversized (limit 1,000,000 bytes): 413 before anything is opened
    r, m = raw_post(c, path, None, ts=ts, body=b"\0" * 1_200_000)
    assert r.status_code == 413 and reason_of(r, m) == "too_large"
    # chunked upload without a length: 411
    r = httpx.post(url + path, content=iter([b"ab", b"cd"]),
                   headers={HEADER_SENDER: c.client_id, HEADER_TIMESTAMP: str(ts)})
    assert r.status_code == 411
    # an envelope that does not parse (inside a valid seal): 422 malformed, sealed answer
    r, m = raw_post(c, path, b"ZKFE\x01garbage", ts=ts)
    assert r.status_code == 422 and m is not None and m["error"] == "malformed"
    assert r.headers["content-type"].startswith(SEALED_MEDIA_TYPE)
    # valid envelope missing its proof part
    r, m = raw_post(c, path, encode_envelope({"client_id": c.client_id}), ts=ts)
    assert r.status_code == 422 and m["error"] == "malformed"
    c.close()


def test_application_rejections(dep: Any, clients: Any) -> None:
    cfg = open_round(dep, seed=8)
    rid = cfg["round_id"]
    path = f"/v1/rounds/{rid}/updates"
    c = clients.new()
    other = clients.new()

    # stale timestamp (signed and sealed consistently, but 1 hour old)
    env, ts = _envelope(c, cfg, ts=now() - 3600)
    r, m = raw_post(c, path, env, ts=ts)
    assert r.status_code == 422 and m["error"] == "stale_timestamp"
    # bad signature: signed by another client's key
    ct, proof, _ = update_for(c, cfg, seed=2)
    forged_env = other.signed_update(rid, ct, proof)
    meta = decode_envelope(forged_env)
    meta.meta["client_id"] = c.client_id
    ts = now()
    meta.meta["timestamp"] = ts
    r, m = raw_post(c, path, encode_envelope(meta.meta, meta.parts), ts=ts)
    assert r.status_code == 422 and m["error"] == "bad_signature"
    # tampered payload inside a valid seal: a flipped ciphertext byte breaks the signature
    env, ts = _envelope(c, cfg, seed=3)
    e = decode_envelope(env)
    parts = dict(e.parts)
    parts["ciphertexts"] = parts["ciphertexts"][:-1] + bytes([parts["ciphertexts"][-1] ^ 1])
    r, m = raw_post(c, path, encode_envelope(e.meta, parts), ts=ts)
    assert r.status_code == 422 and m["error"] in ("bad_signature", "malformed")
    # wrong round: signed for round rid, posted to a round that does not exist
    env, ts = _envelope(c, cfg, seed=4, round_id=rid + 50)
    r, m = raw_post(c, f"/v1/rounds/{rid + 50}/updates", env, ts=ts)
    assert r.status_code == 422 and m["error"] == "wrong_round"
    # signed round id differs from the path
    r, m = raw_post(c, path, env, ts=ts)
    assert r.status_code == 422 and m["error"] == "wrong_round"
    # truncated ciphertexts / garbage proof (correctly signed): 422 malformed
    ct, proof, _ = update_for(c, cfg, seed=5)
    res = c.submit(rid, ct[: len(ct) // 2], proof)
    assert res.status == 422 and res.reason == "malformed"
    res = c.submit(rid, ct, os.urandom(len(proof)))
    assert res.status == 422 and res.reason == "malformed"
    res = c.submit(rid, ct, proof[:-7])
    assert res.status == 422 and res.reason == "malformed"
    # ciphertexts for another chunk count (statement mismatch): 422 malformed
    res = c.submit(rid, ct + b"\0" * 10, proof)
    assert res.status == 422 and res.reason == "malformed"
    # a proof for another client's context does not verify for this one
    ct_o, proof_o, _ = update_for(other, cfg, seed=6)
    res = c.submit(rid, ct_o, proof_o)
    assert res.status == 422 and res.reason == "proof_invalid"
    # none of the above was added
    with dep.admin() as admin:
        st = admin.status(rid)
    assert st["accepted"] == 0
    c.close()
    other.close()


def test_get_requests_replay_and_auth(dep: Any, clients: Any) -> None:
    cfg = open_round(dep, seed=9)
    c = clients.new()
    assert c.current_round()["round_id"] == cfg["round_id"]
    url = dep.aggregator.url
    path = "/v1/rounds/current"
    ts = now()
    env = signed_request_envelope(c.signing_key, "GET", path, c.client_id, ts)
    sealed, _, _ = seal_request(c.params().kem_pk, "GET", path, c.client_id, ts, env)
    h = {HEADER_SENDER: c.client_id, HEADER_TIMESTAMP: str(ts), HEADER_SEALED: b64e(sealed)}
    assert httpx.get(url + path, headers=h).status_code == 200
    # the identical signed request again: replay
    r = httpx.get(url + path, headers=h)
    assert r.status_code == 422 and r.headers["x-zkflpq-reason"] == "replay"
    # no sealed request at all
    r = httpx.get(url + path, headers={HEADER_SENDER: c.client_id, HEADER_TIMESTAMP: str(ts)})
    assert r.status_code == 401
    # no credentials
    assert httpx.get(url + path).status_code == 401
    assert httpx.get(f"{url}/v1/rounds/{cfg['round_id']}/model").status_code == 401
    # garbage header
    r = httpx.get(url + path, headers={**h, HEADER_SEALED: "!!!"})
    assert r.status_code == 400
    c.close()


def test_admin_auth(dep: Any) -> None:
    url = dep.aggregator.url
    body = {"tau": 1.0}
    r = httpx.post(f"{url}/v1/rounds", json=body)
    assert r.status_code == 401 and r.headers.get("www-authenticate") == "Bearer"
    r = httpx.post(f"{url}/v1/rounds", json=body, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    r = httpx.post(f"{url}/v1/clients", json={"public_key": "x"},
                   headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    auth = {"Authorization": f"Bearer {dep.token}"}
    r = httpx.post(f"{url}/v1/clients", json={"public_key": "not base64"}, headers=auth)
    assert r.status_code == 422 and r.json()["error"] == "malformed"
    r = httpx.post(f"{url}/v1/rounds", content=b"{not json", headers={
        **auth, "Content-Type": "application/json"})
    assert r.status_code == 422
    r = httpx.post(f"{url}/v1/rounds", json={"tau": -1}, headers=auth)
    assert r.status_code == 422
    r = httpx.post(f"{url}/v1/rounds", json={"tau": 1e9, "scale": 1e9}, headers=auth)
    assert r.status_code in (409, 422)
    # the KA's admin API too
    r = httpx.post(f"{dep.ka.url}/v1/clients", json={"public_key": "x"})
    assert r.status_code == 401


def test_never_a_500_and_token_never_logged(dep: Any) -> None:
    """Random bodies, headers and paths: 4xx only. Then: no 5xx in the metrics, and the
    admin token appears in no log line."""
    rng = np.random.default_rng(0)
    url = dep.aggregator.url
    paths = ["/v1/rounds/1/updates", "/v1/rounds/0/updates", "/v1/rounds/abc/updates",
             "/v1/rounds/99999999999/updates", "/v1/clients", "/v1/rounds",
             "/v1/rounds/1/close", "/v1/decryptions"]
    http = httpx.Client(timeout=30)
    for i in range(40):
        path = paths[i % len(paths)]
        body = rng.bytes(int(rng.integers(0, 3000)))
        headers = {HEADER_SENDER: rng.choice(["", "x", "client-" + "0" * 20, "💥"]),
                   HEADER_TIMESTAMP: rng.choice(["", "1", "-5", "9" * 30, "abc"])}
        headers = {k: v for k, v in headers.items() if v}
        for base in (url, dep.ka.url):
            try:
                r = http.post(base + path, content=body, headers=headers)
            except UnicodeEncodeError:
                continue
            assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:200])
    http.close()
    for base in (url, dep.ka.url):
        metrics = httpx.get(f"{base}/metrics").text
        five = [ln for ln in metrics.splitlines()
                if ln.startswith("zkflpq_http_requests_total") and 'status="5' in ln]
        assert five == [], five
    for log in dep.root.glob("*.log"):
        text = log.read_text(errors="replace")
        assert dep.token not in text, log
        for line in text.splitlines():
            if line.startswith("{"):
                json.loads(line)  # structured: every line is one JSON object


def test_rejected_proofs_per_client_and_round_are_capped(dep: Any, clients: Any) -> None:
    """A well-formed garbage proof costs a full verification: after
    max_rejected_per_client (5) verified rejections in a round, the client's further
    uploads in that round are refused before the verifier runs; other clients and the
    client's next round are unaffected."""
    cfg = open_round(dep, seed=11)
    c = clients.new()
    for seed in range(5):
        ct, proof, _ = update_for(c, cfg, seed=100 + seed, norm=40.0, forged=True)
        res = c.submit(cfg["round_id"], ct, proof)
        assert res.status == 422 and res.reason == "proof_invalid", seed
    ct, proof, _ = update_for(c, cfg, seed=200)  # even an honest one: the budget is spent
    res = c.submit(cfg["round_id"], ct, proof)
    assert res.status == 403 and res.reason == "attempts_exhausted"
    other = clients.new()
    ct, proof, _ = update_for(other, cfg, seed=201)
    assert other.submit(cfg["round_id"], ct, proof).status == 202
