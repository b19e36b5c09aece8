"""Admin client for both services (bearer token; the token is never logged or printed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import httpx
import numpy as np

from zkflpq.pq import VerifyKey
from zkflpq.protocol import b64e, encode_float_vector

from .transport import ProtocolError, tls_verify

__all__ = ["AdminClient"]


class AdminClient:
    def __init__(self, aggregator_url: str | None = None, key_authority_url: str | None = None,
                 *, token: str | None = None, key_authority_token: str | None = None,
                 timeout: float = 600.0, verify: bool | str = True) -> None:
        tls = tls_verify(verify)
        self.agg = (httpx.Client(base_url=aggregator_url.rstrip("/"), timeout=timeout,
                                 headers={"Authorization": f"Bearer {token}"} if token else {},
                                 verify=tls)
                    if aggregator_url else None)
        ka_token = key_authority_token or token
        self.ka = (httpx.Client(base_url=key_authority_url.rstrip("/"), timeout=timeout,
                                headers={"Authorization": f"Bearer {ka_token}"} if ka_token
                                else {}, verify=tls)
                   if key_authority_url else None)

    def close(self) -> None:
        for c in (self.agg, self.ka):
            if c is not None:
                c.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _who(self, c: httpx.Client) -> str:
        name = "the aggregator" if c is self.agg else "the key authority"
        return f"{name} at {c.base_url}".rstrip("/")

    def _call(self, c: httpx.Client, method: str, path: str, **kw: Any) -> Any:
        """One admin request; errors name the service that answered (two services, two
        tokens: "403 invalid admin token" alone does not say which one was wrong)."""
        try:
            r = c.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise ProtocolError(0, "unreachable", f"{type(exc).__name__}: {exc}",
                                self._who(c)) from None
        return self._check(r, self._who(c))

    @staticmethod
    def _check(r: httpx.Response, who: str = "") -> Any:
        if r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and isinstance(body.get("error"), str):
                raise ProtocolError(r.status_code, body["error"], str(body.get("detail") or ""),
                                    who)
            raise ProtocolError(r.status_code, "http_error",
                                f"{r.request.url} is not a zkflpq endpoint", who)
        ctype = r.headers.get("content-type", "")
        return r.json() if ctype.startswith("application/json") else r.content

    def _need(self, which: str) -> httpx.Client:
        c = self.agg if which == "agg" else self.ka
        if c is None:
            name = "aggregator" if which == "agg" else "key authority"
            opt = "aggregator" if which == "agg" else "key-authority"
            raise ProtocolError(0, "no_url", f"no {name} URL: pass --{opt}-url or set "
                                f"ZKFLPQ_{opt.upper().replace('-', '_')}_URL")
        return c

    def check_tokens(self) -> None:
        """Cheap authenticated read at each configured service, so that a wrong token
        fails before anything is changed anywhere."""
        if self.ka is not None:
            self._call(self.ka, "GET", "/v1/decryptions")
        if self.agg is not None:
            self._call(self.agg, "GET", "/v1/clients")

    # -- enrolment -------------------------------------------------------------------------
    def enrol_client(self, verify_key: VerifyKey, label: str = "") -> dict[str, Any]:
        """Enrol at the aggregator and at the key authority (whichever URLs are set)."""
        body = {"public_key": b64e(verify_key.to_bytes()), "label": label}
        out: dict[str, Any] = {}
        # Both tokens first: a client enrolled at one service only cannot take part.
        # Enrolment is idempotent, so re-running after any later failure completes it.
        self.check_tokens()
        if self.ka is not None:
            out["key_authority"] = self._call(self.ka, "POST", "/v1/clients", json=body)
        if self.agg is not None:
            out["aggregator"] = self._call(self.agg, "POST", "/v1/clients", json=body)
        first = out.get("aggregator") or out.get("key_authority") or {}
        out["client_id"] = first.get("client_id")
        return out

    def enrol_aggregator(self, aggregator_id: str, verify_key: VerifyKey) -> dict[str, Any]:
        return self._call(self._need("ka"), "POST", "/v1/aggregators", json={
            "aggregator_id": aggregator_id, "public_key": b64e(verify_key.to_bytes())})

    # -- rounds ----------------------------------------------------------------------------
    def open_round(self, *, tau: float | Literal["auto"], scale: float = 65536.0,
                   k_min: int = 2, deadline_s: float | None = None,
                   model: np.ndarray | None = None, layout: str = "",
                   tau_rule: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Open a round. ``tau="auto"``: the aggregator derives τ from its past rounds
        with the adaptive rule, whose parameters ``tau_rule`` may set (``multiplier``,
        ``floor``, ``ceiling``, ``window``, ``initial``; only with "auto"); the answer's
        ``tau`` is the resolved number and ``tau_auto`` how it was derived."""
        body: dict[str, Any] = {"tau": tau, "scale": scale, "k_min": k_min,
                                "deadline_s": deadline_s}
        if tau_rule is not None:
            body["tau_rule"] = dict(tau_rule)
        if model is not None:
            vec = np.asarray(model, dtype=np.float32).reshape(-1)
            body["model"] = {"d": int(vec.size), "layout": layout,
                             "vector": b64e(encode_float_vector(vec))}
        return self._call(self._need("agg"), "POST", "/v1/rounds", json=body)

    def close_round(self, round_id: int) -> dict[str, Any]:
        return self._call(self._need("agg"), "POST", f"/v1/rounds/{round_id}/close")

    def status(self, round_id: int | None = None) -> dict[str, Any]:
        """A round's state and counts; without an id, the open round's (or
        ``{"state": "none"}`` when no round is open)."""
        agg = self._need("agg")
        if round_id is None:
            try:
                current = self._call(agg, "GET", "/v1/rounds/current")
            except ProtocolError as exc:
                if exc.reason == "no_open_round":
                    return {"state": "none", "detail": "no round is open"}
                raise
            round_id = int(current["round_id"])
        return self._call(agg, "GET", f"/v1/rounds/{round_id}")

    def model(self, round_id: int, stage: str = "result") -> np.ndarray:
        data = self._call(self._need("agg"), "GET", f"/v1/rounds/{round_id}/model",
                          params={"stage": stage})
        return np.frombuffer(data, dtype="<f4").astype(np.float32)

    def params(self) -> dict[str, Any]:
        return self._call(self._need("agg"), "GET", "/v1/params")

    def key_authority_params(self) -> dict[str, Any]:
        return self._call(self._need("ka"), "GET", "/v1/params")

    def decryptions(self) -> list[dict[str, Any]]:
        return self._call(self._need("ka"), "GET", "/v1/decryptions")
