"""Client-agent transport (retries, backoff, Retry-After, giving up) against a mock
transport, and the log redaction filter."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from services.common.logs import JsonFormatter, RedactFilter, register_secret
from zkflpq.agent import AggregatorClient, ProtocolError, RetryPolicy


def client_with(handler: Any, attempts: int = 4) -> tuple[AggregatorClient, list[float]]:
    sleeps: list[float] = []
    c = AggregatorClient("http://agg.test", transport=httpx.MockTransport(handler),
                         retry=RetryPolicy(attempts=attempts, backoff_s=0.1, max_backoff_s=1.0))
    c.sleep = sleeps.append
    return c, sleeps


def test_retries_on_503_and_connect_errors_then_succeeds() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("refused", request=request)
        if calls["n"] == 2:
            return httpx.Response(503)
        if calls["n"] == 3:
            return httpx.Response(429, headers={"Retry-After": "0.7"})
        return httpx.Response(200, json={"ok": True})

    c, sleeps = client_with(handler, attempts=5)
    r = c._send(lambda: c.http.get("/x"))
    assert r.status_code == 200 and calls["n"] == 4
    assert len(sleeps) == 3 and sleeps[2] == pytest.approx(0.7)
    assert 0.05 <= sleeps[0] <= 0.1 and 0.1 <= sleeps[1] <= 0.2  # exponential, jittered


def test_gives_up_after_attempts() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    c, sleeps = client_with(handler, attempts=3)
    with pytest.raises(ProtocolError) as e:
        c._send(lambda: c.http.get("/x"))
    assert e.value.reason == "unreachable" and len(sleeps) == 3


def test_no_retry_on_verdicts() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return httpx.Response(422, json={"error": "proof_invalid"})

    c, _ = client_with(handler)
    assert c._send(lambda: c.http.get("/x")).status_code == 422 and calls["n"] == 1


def test_backoff_is_capped() -> None:
    p = RetryPolicy(backoff_s=1.0, max_backoff_s=3.0)
    assert all(p.delay(a) <= 3.0 for a in range(10))
    assert p.delay(0, "2") == 2.0 and p.delay(0, "999") == 3.0


def test_redaction_of_tokens_and_secret_fields(caplog: pytest.LogCaptureFixture) -> None:
    register_secret("s3cr3t-admin-token-value")
    rec = logging.LogRecord("x", logging.INFO, __file__, 1,
                            "auth Bearer abc.def-123 and s3cr3t-admin-token-value", (), None)
    rec.fields = {"authorization": "Bearer xyz", "admin_token": "t", "path": "/v1/rounds",
                  "nested": {"password": "p", "ok": "s3cr3t-admin-token-value"}}
    assert RedactFilter().filter(rec)
    out = json.loads(JsonFormatter("test").format(rec))
    text = json.dumps(out)
    assert "abc.def-123" not in text and "s3cr3t-admin-token-value" not in text
    assert out["authorization"] == "[REDACTED]" and out["admin_token"] == "[REDACTED]"
    assert out["path"] == "/v1/rounds" and out["nested"]["password"] == "[REDACTED]"
