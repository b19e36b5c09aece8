"""The key authority as a real process: it decrypts only sums it recomputes itself from at
least K_min ciphertexts signed by distinct enrolled clients, once per round, and refuses
everything else with a specific 4xx."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from svc_helpers import start_deployment

from services.aggregator.db import AcceptedRow
from services.aggregator.ka_client import KaError, KeyAuthorityClient
from zkflpq.bfv import encode_ciphertexts, encrypt
from zkflpq.pq import SigningKey, load_key
from zkflpq.protocol import (
    CTX_UPDATE,
    HEADER_SENDER,
    HEADER_TIMESTAMP,
    SEALED_MEDIA_TYPE,
    new_nonce,
    now,
    seal_request,
    sha3,
    update_digest_from_hashes,
    update_signing_message,
)

pytestmark = pytest.mark.timeout(300)

D = 100  # k = 2 chunks of N = 64


@pytest.fixture(scope="module")
def ka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("ka")
    dep = start_deployment(root, with_aggregator=False, min_clients=2)
    client = KeyAuthorityClient(dep.ka.url, root / "agg-cache", None, 60.0)
    (root / "agg-cache").mkdir()
    client.load()
    sk = load_key(dep.agg_dir / "aggregator.sig", SigningKey)
    keys = [SigningKey.generate() for _ in range(5)]
    with dep.admin() as admin:
        ids = [admin.enrol_client(k.verify_key())["client_id"] for k in keys]
    yield {"dep": dep, "client": client, "agg_sk": sk, "agg_id": dep.aggregator_id,
           "keys": keys, "ids": ids}
    dep.stop()


def rows_for(ka: dict[str, Any], round_id: int, which: list[int], seed: int = 0,
             k_min: int = 2, agg_id: str | None = None
             ) -> tuple[list[AcceptedRow], np.ndarray]:
    """Updates of clients ``which``, each signed as the client agent signs one: for
    ``agg_id`` (default: the enrolled aggregator), this key authority and ``k_min``."""
    info = ka["client"].info
    params = info.params
    k = -(-D // params.n)
    rng = np.random.default_rng(seed)
    rows, total = [], np.zeros(k * params.n, dtype=np.int64)
    for i in which:
        m = rng.integers(-1000, 1000, size=(k, params.n))
        m[-1, D - (k - 1) * params.n:] = 0
        total += m.reshape(-1)
        ct = encode_ciphertexts(encrypt(info.bfv_pk, m))
        proof_hash = sha3(f"proof {i} {seed}".encode())
        ts, nonce = now(), new_nonce()
        cid = ka["ids"][i]
        sig = ka["keys"][i].sign(update_signing_message(
            cid, round_id, update_digest_from_hashes(sha3(ct), proof_hash), ts, nonce,
            aggregator_id=agg_id or ka["agg_id"], deployment=info.fingerprint, k_min=k_min),
            CTX_UPDATE)
        rows.append(AcceptedRow(round_id=round_id, client_id=cid, idem_key="x",
                                ciphertexts=ct, proof_hash=proof_hash.hex(), timestamp=ts,
                                nonce=nonce, signature=sig, accepted_at=0.0))
    return rows, total[:D]


def decrypt(ka: dict[str, Any], round_id: int, rows: list[AcceptedRow], k_min: int = 2,
            agg_id: str | None = None, agg_sk: SigningKey | None = None) -> Any:
    params = ka["client"].info.params
    return ka["client"].decrypt(aggregator_id=agg_id or ka["agg_id"],
                                signing_key=agg_sk or ka["agg_sk"], round_id=round_id, d=D,
                                k=-(-D // params.n), k_min=k_min, rows=rows)


def refused(ka: dict[str, Any], *args: Any, **kw: Any) -> KaError:
    with pytest.raises(KaError) as e:
        decrypt(ka, *args, **kw)
    return e.value


def test_decrypts_the_sum_once_per_round(ka: dict[str, Any]) -> None:
    rows, expect = rows_for(ka, 1001, [0, 1, 2])
    vec, info = decrypt(ka, 1001, rows)
    assert np.array_equal(vec, expect) and info["n_summed"] == 3
    # the identical request (e.g. the aggregator retrying after a crash): same result
    vec2, _ = decrypt(ka, 1001, rows)
    assert np.array_equal(vec2, expect)
    # a different set of ciphertexts for the same round: refused
    other, _ = rows_for(ka, 1001, [0, 1], seed=1)
    e = refused(ka, 1001, other)
    assert e.status == 409 and e.reason == "already_decrypted"
    e = refused(ka, 1001, rows[:2])
    assert e.status == 409 and e.reason == "already_decrypted"


def test_refuses_fewer_than_k_min(ka: dict[str, Any]) -> None:
    rows3, _ = rows_for(ka, 1002, [0, 1], k_min=3)
    e = refused(ka, 1002, rows3, k_min=3)
    assert e.status == 422 and e.reason == "too_few_clients"
    # the key authority's own floor (2) holds whatever K_min the clients signed
    rows1, _ = rows_for(ka, 1002, [0], k_min=1)
    e = refused(ka, 1002, rows1, k_min=1)
    assert e.status == 422 and e.reason == "too_few_clients"
    # a refusal does not burn the round's decryption
    rows, _ = rows_for(ka, 1002, [0, 1])
    vec, info = decrypt(ka, 1002, rows, k_min=2)
    assert info["n_summed"] == 2


def test_refuses_unknown_client_duplicate_client_and_tampered_ciphertext(
        ka: dict[str, Any]) -> None:
    rows, _ = rows_for(ka, 1003, [0, 1, 2])
    # unknown client: signed by a key the key authority never enrolled
    stranger = SigningKey.generate()
    bad = AcceptedRow(**{c: getattr(rows[2], c) for c in (
        "round_id", "idem_key", "ciphertexts", "proof_hash", "timestamp", "nonce",
        "accepted_at")}, client_id="client-ffffffffffffffffffff",
        signature=stranger.sign(b"x", CTX_UPDATE))
    e = refused(ka, 1003, [rows[0], rows[1], bad])
    assert e.status == 422 and e.reason == "unknown_client"
    # the same client twice
    e = refused(ka, 1003, [rows[0], rows[1], rows[1]])
    assert e.status == 422 and e.reason == "duplicate_client"
    # tampered ciphertext: one byte of client 2's ciphertext changed after signing
    ct = bytearray(rows[2].ciphertexts)
    ct[-5] ^= 0x01
    tampered = AcceptedRow(**{c: getattr(rows[2], c) for c in (
        "round_id", "client_id", "idem_key", "proof_hash", "timestamp", "nonce",
        "signature", "accepted_at")}, ciphertexts=bytes(ct))
    e = refused(ka, 1003, [rows[0], rows[1], tampered])
    assert e.status == 422 and e.reason == "bad_signature"
    # a client signature made for another round
    r_other, _ = rows_for(ka, 7777, [2])
    e = refused(ka, 1003, [rows[0], rows[1], r_other[0]])
    assert e.status == 422 and e.reason == "bad_signature"
    # still decryptable with the genuine inputs
    vec, info = decrypt(ka, 1003, rows)
    assert info["n_summed"] == 3


def test_refuses_unknown_or_forged_aggregator(ka: dict[str, Any]) -> None:
    rows, _ = rows_for(ka, 1004, [0, 1])
    e = refused(ka, 1004, rows, agg_id="aggregator-unknown")
    assert e.status == 403 and e.reason == "not_enrolled"
    e = refused(ka, 1004, rows, agg_sk=SigningKey.generate())
    assert e.status == 422 and e.reason == "bad_signature"


def test_malformed_truncated_oversized_bodies(ka: dict[str, Any]) -> None:
    url = ka["dep"].ka.url + "/v1/decryptions"
    agg_id = ka["agg_id"]
    ts = now()
    h = {HEADER_SENDER: agg_id, HEADER_TIMESTAMP: str(ts), "Content-Type": SEALED_MEDIA_TYPE}
    assert httpx.post(url, content=b"garbage").status_code == 401
    r = httpx.post(url, content=os.urandom(2000), headers=h)
    assert r.status_code == 400 and r.json()["error"] == "malformed"
    info = ka["client"].info
    rows, _ = rows_for(ka, 1005, [0, 1])
    body = ka["client"].build_request(aggregator_id=agg_id, signing_key=ka["agg_sk"],
                                      round_id=1005, d=D, k=2, k_min=2, rows=rows, timestamp=ts)
    sealed, _, _ = seal_request(info.kem_pk, "POST", "/v1/decryptions", agg_id, ts, body)
    r = httpx.post(url, content=sealed[:-100], headers=h)
    assert r.status_code == 400 and r.json()["error"] == "truncated"
    r = httpx.post(url, content=sealed[:-1] + bytes([sealed[-1] ^ 1]), headers=h)
    assert r.status_code == 400 and r.json()["error"] == "tampered"
    # a sealed body whose envelope is not an envelope
    junk, _, _ = seal_request(info.kem_pk, "POST", "/v1/decryptions", agg_id, ts, b"junk")
    assert httpx.post(url, content=junk, headers=h).status_code == 422
    # over the 1 GiB limit by declaration: refused before reading anything
    status, reason = raw_declared_length(ka["dep"].ka.port, "/v1/decryptions", 2 * 1024**3)
    assert status == 413 and reason == "too_large"
    # the genuine request still works, exactly once
    r = httpx.post(url, content=sealed, headers=h)
    assert r.status_code == 200
    r = httpx.post(url, content=sealed, headers=h)
    assert r.status_code == 422 and r.headers["x-zkflpq-reason"] == "replay"


def raw_declared_length(port: int, path: str, length: int) -> tuple[int, str]:
    """Send only headers announcing ``length`` bytes (httpx refuses to lie about it)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n"
                  f"Content-Type: {SEALED_MEDIA_TYPE}\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["error"]


def test_audit_log_is_hash_chained(ka: dict[str, Any]) -> None:
    rows, _ = rows_for(ka, 1006, [0, 1, 2])
    decrypt(ka, 1006, rows)
    refused(ka, 1006, rows[:2])
    lines = (ka["dep"].ka_dir / "audit.jsonl").read_bytes().splitlines()
    assert len(lines) >= 5
    prev = "0" * 64
    events = []
    for line in lines:
        entry = json.loads(line)
        assert entry["prev"] == prev
        prev = sha3(line).hex()
        events.append(entry["event"])
    assert "decrypted" in events and "refused" in events and "client_enrolled" in events
    with ka["dep"].admin() as admin:
        decs = admin.decryptions()
    assert 1006 in {d["round_id"] for d in decs}
