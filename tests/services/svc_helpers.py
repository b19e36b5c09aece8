"""Helpers for the service tests: real key-authority and aggregator processes (uvicorn on
loopback) on the INSECURE N = 64 parameter set with a small model.

Verification runs in a thread pool here (faster start-up and restarts); the default
process pool is exercised end to end by test_services_demo.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

PARAMS = "INSECURE-bfv3-n64-q81-t34-l3"
D = 150  # k = 3 chunks of N = 64
TAU = 1.0
SCALE = 1024.0


def start_deployment(root: Path, **kw: Any):  # type: ignore[no-untyped-def]
    from services.common.launch import LocalDeployment

    opts: dict[str, Any] = dict(params=PARAMS, verify_workers=1, verify_queue=0,
                                max_body_bytes=1_000_000, verify_executor="thread",
                                min_clients=2)
    opts.update(kw)
    dep = LocalDeployment(root, **opts)
    try:
        dep.start()
    except BaseException:
        dep.stop()
        raise
    return dep


class Clients:
    """Enrolled clients of a deployment."""

    def __init__(self, dep: Any) -> None:
        self.dep = dep

    def new(self, index: int | None = None, **client_kw: Any):  # type: ignore[no-untyped-def]
        from zkflpq.agent import AggregatorClient, RetryPolicy
        from zkflpq.pq import SigningKey

        sk = SigningKey.generate()
        with self.dep.admin() as admin:
            admin.enrol_client(sk.verify_key(), "test")
        client_kw.setdefault("retry", RetryPolicy(attempts=3, backoff_s=0.05))
        url = self.dep.aggregators[index or 0].url
        return AggregatorClient(url, signing_key=sk, **client_kw)


def open_round(dep: Any, *, d: int = D, k_min: int = 2, tau: float = TAU,
               scale: float = SCALE, seed: int = 0, aggregator: int = 0) -> dict[str, Any]:
    """Close whatever round is open, then open a new one with a random model."""
    with dep.admin(aggregator) as admin:
        cur = admin.status()
        if cur.get("state") == "open":
            try:
                admin.close_round(cur["round_id"])
            except Exception:  # noqa: BLE001 - too few updates etc.: it still ends the round
                pass
        model = np.random.default_rng(seed).normal(size=d).astype(np.float32)
        return admin.open_round(tau=tau, scale=scale, k_min=k_min, model=model)


def update_for(client: Any, round_cfg: dict[str, Any], seed: int, norm: float = 0.5,
               forged: bool = False) -> tuple[bytes, bytes, np.ndarray]:
    """(ciphertexts, proof, clipped update) for a client and round."""
    from zkflpq import zk
    from zkflpq.protocol import PROTOCOL_VERSION
    from zkflpq.zkbridge import forge_mismatched_update, prove_update

    p = client.params()
    d = int(round_cfg["d"])
    u = np.random.default_rng(seed).normal(size=d)
    u = (u / np.linalg.norm(u) * norm).astype(np.float32)
    ctx = zk.proof_context(PROTOCOL_VERSION, p.aggregator_id, int(round_cfg["round_id"]),
                           client.client_id)
    build = forge_mismatched_update if forged else prove_update
    ct, proof, _ = build(p.bfv_pk, u, float(round_cfg["tau"]), float(round_cfg["scale"]), ctx)
    return ct, proof, u


def postgres_url() -> str | None:
    return os.environ.get("ZKFLPQ_TEST_POSTGRES_URL") or None


def fresh_postgres_database(base_url: str) -> tuple[str, Any]:
    """Create an empty database next to ``base_url``'s; returns (SQLAlchemy URL, dropper)."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    name = "zkflpq_t_" + uuid.uuid4().hex[:12]
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    new = url.set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return new, drop
