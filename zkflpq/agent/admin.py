"""Admin client for both services (bearer token; the token is never logged or printed)."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np

from services.common.protocol import b64e, encode_float_vector
from zkflpq.pq import VerifyKey

from .transport import ProtocolError

__all__ = ["AdminClient"]


class AdminClient:
    def __init__(self, aggregator_url: str | None = None, key_authority_url: str | None = None,
                 *, token: str | None = None, key_authority_token: str | None = None,
                 timeout: float = 600.0) -> None:
        self.agg = (httpx.Client(base_url=aggregator_url.rstrip("/"), timeout=timeout,
                                 headers={"Authorization": f"Bearer {token}"} if token else {})
                    if aggregator_url else None)
        ka_token = key_authority_token or token
        self.ka = (httpx.Client(base_url=key_authority_url.rstrip("/"), timeout=timeout,
                                headers={"Authorization": f"Bearer {ka_token}"} if ka_token
                                else {})
                   if key_authority_url else None)

    def close(self) -> None:
        for c in (self.agg, self.ka):
            if c is not None:
                c.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _check(r: httpx.Response) -> Any:
        if r.status_code >= 400:
            try:
                body = r.json()
                raise ProtocolError(r.status_code, str(body.get("error")),
                                    str(body.get("detail")))
            except ValueError:
                raise ProtocolError(r.status_code, "http_error", r.text[:200]) from None
        ctype = r.headers.get("content-type", "")
        return r.json() if ctype.startswith("application/json") else r.content

    def _need(self, which: str) -> httpx.Client:
        c = self.agg if which == "agg" else self.ka
        if c is None:
            raise ValueError(f"no {'aggregator' if which == 'agg' else 'key authority'} URL")
        return c

    # -- enrolment -------------------------------------------------------------------------
    def enrol_client(self, verify_key: VerifyKey, label: str = "") -> dict[str, Any]:
        """Enrol at the aggregator and at the key authority (whichever URLs are set)."""
        body = {"public_key": b64e(verify_key.to_bytes()), "label": label}
        out: dict[str, Any] = {}
        if self.ka is not None:
            out["key_authority"] = self._check(self.ka.post("/v1/clients", json=body))
        if self.agg is not None:
            out["aggregator"] = self._check(self.agg.post("/v1/clients", json=body))
        first = out.get("aggregator") or out.get("key_authority") or {}
        out["client_id"] = first.get("client_id")
        return out

    def enrol_aggregator(self, aggregator_id: str, verify_key: VerifyKey) -> dict[str, Any]:
        return self._check(self._need("ka").post("/v1/aggregators", json={
            "aggregator_id": aggregator_id, "public_key": b64e(verify_key.to_bytes())}))

    # -- rounds ----------------------------------------------------------------------------
    def open_round(self, *, tau: float, scale: float = 65536.0, k_min: int = 2,
                   deadline_s: float | None = None, model: np.ndarray | None = None,
                   layout: str = "") -> dict[str, Any]:
        body: dict[str, Any] = {"tau": tau, "scale": scale, "k_min": k_min,
                                "deadline_s": deadline_s}
        if model is not None:
            vec = np.asarray(model, dtype=np.float32).reshape(-1)
            body["model"] = {"d": int(vec.size), "layout": layout,
                             "vector": b64e(encode_float_vector(vec))}
        return self._check(self._need("agg").post("/v1/rounds", json=body))

    def close_round(self, round_id: int) -> dict[str, Any]:
        return self._check(self._need("agg").post(f"/v1/rounds/{round_id}/close"))

    def status(self, round_id: int | None = None) -> dict[str, Any]:
        agg = self._need("agg")
        if round_id is None:
            r = agg.get("/v1/rounds/current")
            if r.status_code == 404:
                return {"state": "none", "detail": "no round is open"}
            return self._check(r)
        return self._check(agg.get(f"/v1/rounds/{round_id}"))

    def model(self, round_id: int, stage: str = "result") -> np.ndarray:
        data = self._check(self._need("agg").get(f"/v1/rounds/{round_id}/model",
                                                 params={"stage": stage}))
        return np.frombuffer(data, dtype="<f4").astype(np.float32)

    def params(self) -> dict[str, Any]:
        return self._check(self._need("agg").get("/v1/params"))

    def key_authority_params(self) -> dict[str, Any]:
        return self._check(self._need("ka").get("/v1/params"))

    def decryptions(self) -> list[dict[str, Any]]:
        return self._check(self._need("ka").get("/v1/decryptions"))
