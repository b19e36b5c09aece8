"""No 5xx from any input (issue #13, item 7).

Schemathesis generates requests (positive and negative) for every operation of both
services' OpenAPI documents and sends each twice to the real uvicorn processes, without
and with the admin bearer token; no answer may be a 5xx (``not_a_server_error``). Bounded
by ``max_examples`` per operation and derandomized, so a run takes a few seconds and is
reproducible.

Regression tests for the findings of the first run: a wrong-length ML-DSA key at the
three enrol endpoints (the library's KeyLengthError: tests/pq/test_pq_sign.py), non-finite
or absurd round parameters at the boundary, stored non-finite values read back, an
unhandled exception counted in the requests metric, and bounded metric labels under
random methods and paths."""

from __future__ import annotations

import asyncio
import random
import re
import sqlite3
import time
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from prometheus_client import CollectorRegistry
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from svc_helpers import Clients, open_round

from services.common.http import install_common
from zkflpq.pq import SigningKey
from zkflpq.pq.sign import PUBLIC_KEY_SIZE
from zkflpq.protocol import SEALED_MEDIA_TYPE, b64e

pytestmark = pytest.mark.timeout(180)

EXAMPLES_PER_OPERATION = 20  # positive and negative together; each case is sent twice

# sealed bodies are opaque bytes (format: binary): send them as such
schemathesis.serializer.alias(SEALED_MEDIA_TYPE, "application/octet-stream")


def admin_headers(dep: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {dep.token}"}


def requests_series(metrics_text: str) -> list[dict[str, str]]:
    """Label sets of the zkflpq_http_requests_total series in a /metrics scrape."""
    out = []
    for line in metrics_text.splitlines():
        m = re.match(r"zkflpq_http_requests_total\{(.*)\} ", line)
        if m:
            out.append(dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1))))
    return out


# -- wrong-length ML-DSA public keys -------------------------------------------------------


ENROL_ENDPOINTS = [("aggregator", "/v1/clients"), ("key-authority", "/v1/clients"),
                   ("key-authority", "/v1/aggregators")]


@pytest.mark.parametrize(("service", "path"), ENROL_ENDPOINTS)
@pytest.mark.parametrize("length", [0, 100, PUBLIC_KEY_SIZE - 1, PUBLIC_KEY_SIZE + 3])
def test_enrol_wrong_length_key_is_422(dep: Any, service: str, path: str, length: int
                                       ) -> None:
    url = dep.aggregator.url if service == "aggregator" else dep.ka.url
    body: dict[str, Any] = {"public_key": b64e(b"\x07" * length)}
    if path == "/v1/aggregators":
        body["aggregator_id"] = f"aggregator-wrong-length-{length}"
    r = httpx.post(url + path, json=body, headers=admin_headers(dep), timeout=30)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "malformed"
    assert f"{PUBLIC_KEY_SIZE} bytes" in r.json()["detail"]
    # a right-length key still enrols
    vk = SigningKey.generate().verify_key()
    body["public_key"] = b64e(vk.to_bytes())
    assert httpx.post(url + path, json=body, headers=admin_headers(dep),
                      timeout=30).status_code == 201


# -- round parameters ------------------------------------------------------------------------


def _open_round_raw(dep: Any, fields: str) -> httpx.Response:
    vector = b64e(bytes(4 * 150))
    raw = '{"k_min": 2, ' + fields + ', "model": {"d": 150, "vector": "' + vector + '"}}'
    return httpx.post(dep.aggregator.url + "/v1/rounds", content=raw.encode(), timeout=30,
                      headers={**admin_headers(dep), "Content-Type": "application/json"})


BAD_NUMBERS = [("deadline_s", v) for v in ("Infinity", "-Infinity", "NaN", "-5", "0", "1e12",
                                          "1e308")] + \
              [("tau", v) for v in ("Infinity", "NaN", "-1", "1e300")] + \
              [("scale", v) for v in ("Infinity", "-Infinity", "NaN", "0", "1e300")]


@pytest.mark.parametrize(("field", "value"), BAD_NUMBERS)
def test_open_round_refuses_non_finite_or_absurd_numbers(dep: Any, field: str, value: str
                                                         ) -> None:
    fields = {"tau": "1.0", "scale": "1024", field: value}
    r = _open_round_raw(dep, ", ".join(f'"{k}": {v}' for k, v in fields.items()))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "malformed"
    assert [e["loc"] for e in r.json()["errors"]] == [["body", field]], r.text


def test_stored_non_finite_round_values_do_not_500(dep: Any) -> None:
    """A row written before the boundary refused non-finite numbers still reads back
    (non-finite floats as null), as admin and as a client, open and after the close."""
    info = open_round(dep)
    rid = info["round_id"]
    db = dep.agg_dir / "aggregator.sqlite3"
    with sqlite3.connect(db) as conn:  # 9e999 is +inf in SQLite; a NaN reads back NULL
        conn.execute("UPDATE rounds SET deadline = 9e999, tau = 9e999 WHERE id = ?", (rid,))
    client = Clients(dep).new()
    try:
        for _ in ("open", "closed"):
            for path in ("/v1/rounds/current", f"/v1/rounds/{rid}"):
                r = httpx.get(dep.aggregator.url + path, headers=admin_headers(dep),
                              timeout=30)
                if r.status_code == 404 and path.endswith("current"):
                    continue  # closed: no current round
                assert r.status_code == 200, (path, r.status_code, r.text)
                assert r.json()["deadline"] is None and r.json()["tau"] is None
            assert client.round_status(rid)["deadline"] is None
            # no updates: the close fails (4xx) but ends the round
            r = httpx.post(f"{dep.aggregator.url}/v1/rounds/{rid}/close",
                           headers=admin_headers(dep), timeout=60)
            assert r.status_code < 500, r.text
        assert client.round_status(rid)["state"] in ("closed", "failed")
    finally:
        client.close()


# -- metrics ----------------------------------------------------------------------------------


def _boom_app() -> tuple[FastAPI, CollectorRegistry]:
    app = FastAPI()
    registry = CollectorRegistry()
    install_common(app, "test", registry, 1 << 20)

    @app.get("/boom/{n}")
    async def boom(n: int) -> dict[str, Any]:
        raise RuntimeError("forced")

    return app, registry


def test_unhandled_exception_counted_as_500() -> None:
    app, registry = _boom_app()

    async def go() -> None:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            r = await http.get("/boom/1")
            assert r.status_code == 500
            assert r.json() == {"error": "internal", "detail": "internal error"}
            assert (await http.get("/healthz")).status_code == 200

    asyncio.run(go())
    labels = {"service": "test", "route": "/boom/{n}", "method": "GET", "status": "500"}
    assert registry.get_sample_value("zkflpq_http_requests_total", labels) == 1.0
    assert registry.get_sample_value("zkflpq_http_request_seconds_count",
                                     {k: v for k, v in labels.items() if k != "status"}) == 1.0


def test_metric_labels_bounded_under_random_methods_and_paths(dep: Any) -> None:
    rng = random.Random(7)
    url = dep.aggregator.url
    templates = ["/v1/params", "/v1/clients", "/v1/rounds", "/v1/rounds/current",
                 "/v1/rounds/{round_id}", "/v1/rounds/{round_id}/model",
                 "/v1/rounds/{round_id}/close", "/v1/rounds/{round_id}/updates", "/healthz"]
    before = requests_series(httpx.get(url + "/metrics", timeout=30).text)
    with httpx.Client(base_url=url, timeout=30) as http:
        for i in range(200):
            method = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(8))
            if i % 2:
                path = "/" + "/".join(f"{rng.getrandbits(32):x}" for _ in range(rng.randint(1, 4)))
            else:
                path = rng.choice(templates).replace("{round_id}", str(rng.randint(1, 99)))
            if i % 5 == 0:
                method = rng.choice(["GET", "POST", "DELETE"])
            r = http.request(method, path)
            assert r.status_code < 500, (method, path, r.status_code)
    after = requests_series(httpx.get(url + "/metrics", timeout=30).text)
    new = len(after) - len(before)
    assert new <= 40, f"{new} new zkflpq_http_requests_total series from 200 requests"
    routes = {s["route"] for s in after}
    methods = {s["method"] for s in after}
    assert routes <= {*templates, "/openapi.json", "unmatched"}, routes
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
                       "CONNECT", "OTHER"}, methods


# -- schemathesis -----------------------------------------------------------------------------


FUZZ = settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
                database=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("service", ["aggregator", "key-authority"])
def test_schemathesis_no_server_error(dep: Any, service: str) -> None:
    url = dep.aggregator.url if service == "aggregator" else dep.ka.url
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 6
    if service == "aggregator":
        open_round(dep)  # a round exists: status, model and close reach their logic
    auth = admin_headers(dep)
    t0 = time.perf_counter()
    for op in operations:
        strategy = (op.as_strategy(GenerationMode.POSITIVE)
                    | op.as_strategy(GenerationMode.NEGATIVE))

        @FUZZ
        @given(case=strategy)
        def fuzz(case: Any) -> None:
            for headers in (None, auth):  # unauthenticated, then as the admin
                response = case.call(base_url=url, headers=headers, timeout=60)
                case.validate_response(response, checks=[not_a_server_error],
                                       headers=headers)

        fuzz()
    print(f"\n{service}: {len(operations)} operations in {time.perf_counter() - t0:.1f} s")
