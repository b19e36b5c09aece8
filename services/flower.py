"""The key authority for zkflpq's Flower strategy (`zkflpq.flower.ZkflpqStrategy`).

Both implementations run the *existing* key authority code, so the Flower path gets the
same checks as the REST path (each ciphertext signed by a distinct enrolled client for
this deployment, aggregator, round and K_min; at least max(K_min, min_clients) of them;
one decryption per (aggregator, round); no ciphertext in two sums; audit log):

- :class:`HttpKeyAuthority`: the ``services.key_authority`` service over HTTP, through
  the aggregator's own client (``services.aggregator.ka_client``). The ServerApp holds an
  aggregator identity (id + ML-DSA key) enrolled at the key authority.
- :class:`InProcessKeyAuthority`: for simulation, the same service object in this process
  with its data directory in a temporary folder. The strategy only calls ``decrypt``;
  the BFV secret key stays inside the service object.

They live here, not in ``zkflpq.flower``, because services import zkflpq, never the
reverse; the strategy sees them through ``zkflpq.flower.key_authority.KeyAuthority``.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry

from zkflpq.flower.key_authority import AcceptedUpdate, KeyAuthorityRefused
from zkflpq.pq import SigningKey, VerifyKey
from zkflpq.protocol import b64d, b64e, decode_int_vector, meta_int, now

from .aggregator.ka_client import KaError, KeyAuthorityClient, parse_ka_params
from .common.http import ApiError
from .common.settings import KeyAuthoritySettings
from .key_authority.service import KeyAuthorityService, init_key_authority

__all__ = ["HttpKeyAuthority", "InProcessKeyAuthority"]


class _Base:
    aggregator_id: str
    _info: Any

    def _load(self, info: Any) -> None:
        self._info = info
        self.params_name = info.params.name
        self.fingerprint = info.fingerprint
        self.bfv_pk_bytes = info.bfv_pk_bytes
        self.bfv_pk_signature = b64d(info.raw["bfv_public_key_signature"])
        self.verify_key_bytes = info.verify_key.to_bytes()


class HttpKeyAuthority(_Base):
    """``services.key_authority`` at ``url`` (pinned by ``fingerprint``); the ServerApp
    is the enrolled aggregator ``aggregator_id`` with ``signing_key``."""

    def __init__(self, url: str, *, aggregator_id: str, signing_key: SigningKey,
                 fingerprint: str, data_dir: str | Path, timeout: float = 600.0,
                 ca_file: Path | None = None) -> None:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        self.client = KeyAuthorityClient(url, Path(data_dir), fingerprint, timeout, ca_file)
        self.aggregator_id = aggregator_id
        self.signing_key = signing_key
        self._load(self.client.load())

    def decrypt(self, round_id: int, d: int, k: int, k_min: int,
                rows: list[AcceptedUpdate]) -> tuple[np.ndarray, int]:
        try:
            vec, info = self.client.decrypt(aggregator_id=self.aggregator_id,
                                            signing_key=self.signing_key, round_id=round_id,
                                            d=d, k=k, k_min=k_min, rows=rows)  # type: ignore[arg-type]
        except KaError as exc:
            raise KeyAuthorityRefused(exc.reason, exc.detail, exc.client_ids) from None
        return np.asarray(vec, dtype=np.int64), int(info["n_summed"])


class InProcessKeyAuthority(_Base):
    """A fresh key authority (temporary data directory) for simulations and tests."""

    def __init__(self, params_name: str, *, min_clients: int = 2,
                 data_dir: str | Path | None = None,
                 aggregator_id: str = "flower-serverapp") -> None:
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="zkflpq-flower-ka-")
            data_dir = self._tmp.name
        data = Path(data_dir)
        if not (data / "key_authority.json").exists():
            init_key_authority(data, params_name)
        self.service = KeyAuthorityService(
            KeyAuthoritySettings(data_dir=data, min_clients=min_clients), CollectorRegistry())
        self.service.store.create_all()
        self.aggregator_id = aggregator_id
        self.signing_key = SigningKey.generate()
        asyncio.run(self.service.enrol_aggregator(
            aggregator_id, b64e(self.signing_key.verify_key().to_bytes())))
        info = parse_ka_params(self.service.params_document())
        self._client = KeyAuthorityClient("inprocess://", data, None, 0.0)
        self._client.info = info
        self._load(info)

    def enrol(self, verify_keys: list[VerifyKey]) -> list[str]:
        """Enrol client keys (an operator's admin step); returns their client ids."""
        out = []
        for i, vk in enumerate(verify_keys):
            r = asyncio.run(self.service.enrol_client(b64e(vk.to_bytes()), f"node-{i}"))
            out.append(r["client_id"])
        return out

    def decrypt(self, round_id: int, d: int, k: int, k_min: int,
                rows: list[AcceptedUpdate]) -> tuple[np.ndarray, int]:
        ts = now()
        request = self._client.build_request(
            aggregator_id=self.aggregator_id, signing_key=self.signing_key,
            round_id=round_id, d=d, k=k, k_min=k_min, rows=rows, timestamp=ts)  # type: ignore[arg-type]
        try:
            meta, parts = self.service._decrypt(request, self.aggregator_id, ts,
                                                self.signing_key.verify_key())
        except ApiError as exc:
            ids = (exc.extra or {}).get("client_ids", []) if hasattr(exc, "extra") else []
            raise KeyAuthorityRefused(exc.reason, exc.detail, list(ids)) from None
        return decode_int_vector(parts["sum"], d), meta_int(meta, "n_summed", 1)

    def close(self) -> None:
        self.service.store.dispose()
