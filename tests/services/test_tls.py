"""HTTPS for the services: the TLS settings (both files or neither, files must exist), the
uvicorn options derived from them, and the real key-authority app served over TLS by
uvicorn with a self-signed certificate for 127.0.0.1 (IP SAN): trusted with that
certificate, refused with the system CAs, for another host name, and over plain HTTP."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from svc_helpers import PARAMS

from services.common.settings import AggregatorSettings, KeyAuthoritySettings, ServiceSettings
from services.common.tls import service_scheme, uvicorn_tls_kwargs

pytestmark = pytest.mark.timeout(120)

TOKEN = "tls-test-admin-token-0123456789"


def make_self_signed(directory: Path, ip: str = "127.0.0.1") -> tuple[Path, Path]:
    """(certificate, key) PEM files: a self-signed P-256 certificate for ``ip``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"zkflpq test {ip}")])
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


# -- settings ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_self_signed(tmp_path_factory.mktemp("tls"))


def test_no_tls_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZKFLPQ_TLS_CERTFILE", raising=False)
    monkeypatch.delenv("ZKFLPQ_TLS_KEYFILE", raising=False)
    s = ServiceSettings(data_dir=tmp_path)
    assert s.tls_certfile is None and s.tls_keyfile is None
    assert uvicorn_tls_kwargs(s) == {} and service_scheme(s) == "http"


def test_tls_from_environment(pem: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = pem
    monkeypatch.setenv("ZKFLPQ_TLS_CERTFILE", str(cert))
    monkeypatch.setenv("ZKFLPQ_TLS_KEYFILE", str(key))
    for cls in (AggregatorSettings, KeyAuthoritySettings):
        s = cls()
        assert s.tls_certfile == cert and s.tls_keyfile == key
        assert uvicorn_tls_kwargs(s) == {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        assert service_scheme(s) == "https"


@pytest.mark.parametrize("which", ["cert", "key"])
def test_tls_needs_both_files(which: str, pem: tuple[Path, Path],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZKFLPQ_TLS_CERTFILE", raising=False)
    monkeypatch.delenv("ZKFLPQ_TLS_KEYFILE", raising=False)
    cert, key = pem
    kw = {"tls_certfile": cert} if which == "cert" else {"tls_keyfile": key}
    with pytest.raises(ValidationError, match="both a certificate and its key"):
        ServiceSettings(**kw)  # type: ignore[arg-type]
    # The same through the environment.
    monkeypatch.setenv("ZKFLPQ_TLS_CERTFILE" if which == "cert" else "ZKFLPQ_TLS_KEYFILE",
                       str(cert if which == "cert" else key))
    with pytest.raises(ValidationError, match="ZKFLPQ_TLS_"):
        KeyAuthoritySettings()


def test_tls_files_must_exist(pem: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = pem
    with pytest.raises(ValidationError, match="tls_keyfile: no such file"):
        ServiceSettings(tls_certfile=cert, tls_keyfile=tmp_path / "missing.pem")
    with pytest.raises(ValidationError, match="tls_certfile: no such file"):
        AggregatorSettings(tls_certfile=tmp_path, tls_keyfile=key)  # a directory


# -- a real server ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def https_ka(pem: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[int, KeyAuthoritySettings]]:
    """The key-authority app under uvicorn with TLS (as the runner runs it), in a thread."""
    import uvicorn

    from services.common.timeouts import protocol_class
    from services.key_authority.app import create_app
    from services.key_authority.service import init_key_authority

    root = tmp_path_factory.mktemp("ka-tls")
    init_key_authority(root, PARAMS, "xwing", admin=TOKEN)
    cert, key = pem
    settings = KeyAuthoritySettings(data_dir=root, port=0, admin_token=SecretStr(TOKEN),
                                    tls_certfile=cert, tls_keyfile=key)
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0,
                            http=protocol_class(settings.header_timeout_s,
                                                settings.body_timeout_s),
                            log_level="warning", access_log=False, lifespan="on",
                            **uvicorn_tls_kwargs(settings))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    port = int(server.servers[0].sockets[0].getsockname()[1])
    try:
        yield port, settings
    finally:
        server.should_exit = True
        thread.join(30)


def test_https_with_the_certificate(https_ka: tuple[int, Any], pem: tuple[Path, Path]) -> None:
    port, _ = https_ka
    ctx = ssl.create_default_context(cafile=str(pem[0]))
    with httpx.Client(verify=ctx, timeout=10) as http:
        r = http.get(f"https://127.0.0.1:{port}/healthz")
        assert r.status_code == 200 and r.json()["service"] == "key-authority"
        assert r.extensions["http_version"] == b"HTTP/1.1"
        # An admin call: the bearer token now travels inside TLS.
        r = http.get(f"https://127.0.0.1:{port}/v1/decryptions",
                     headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200, r.text
        assert http.get(f"https://127.0.0.1:{port}/v1/decryptions").status_code == 401
        assert http.get(f"https://127.0.0.1:{port}/docs").status_code == 200


def test_https_refused_with_system_cas(https_ka: tuple[int, Any]) -> None:
    port, _ = https_ka
    with pytest.raises(httpx.ConnectError) as exc:
        httpx.get(f"https://127.0.0.1:{port}/healthz", verify=True, timeout=10)
    assert "CERTIFICATE_VERIFY_FAILED" in str(exc.value) or "certificate verify failed" in str(
        exc.value).lower()


def test_https_refused_for_another_host_name(https_ka: tuple[int, Any],
                                             pem: tuple[Path, Path]) -> None:
    port, _ = https_ka
    ctx = ssl.create_default_context(cafile=str(pem[0]))
    with httpx.Client(verify=ctx, timeout=10) as http, \
            pytest.raises(httpx.ConnectError, match="(?i)hostname|not valid for|mismatch"):
        # Connect to 127.0.0.1 but check the certificate against the name "localhost".
        http.get(f"https://127.0.0.1:{port}/healthz", extensions={"sni_hostname": "localhost"})


def test_plain_http_refused(https_ka: tuple[int, Any]) -> None:
    port, _ = https_ka
    with pytest.raises(httpx.TransportError):
        r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        pytest.fail(f"plain HTTP answered {r.status_code}")  # pragma: no cover


# -- LocalDeployment over HTTPS (real service processes) --------------------------------------


def test_local_deployment_over_https(pem: tuple[Path, Path], tmp_path: Path) -> None:
    from svc_helpers import start_deployment

    dep = start_deployment(tmp_path / "dep", tls=pem)
    try:
        assert dep.ka is not None
        assert dep.ka.url.startswith("https://") and dep.aggregator.url.startswith("https://")
        with dep.admin() as admin:
            # The aggregator fetched its parameters from the key authority over TLS.
            assert admin.params()["params"] == PARAMS
        # A client given the CA bundle as a path (as `zkflpq client run --ca-file` does).
        from zkflpq.agent.transport import AggregatorClient

        client = AggregatorClient(dep.aggregator.url, verify=str(pem[0]))
        try:
            assert client.params().params.name == PARAMS
        finally:
            client.close()
        for url in (dep.ka.url, dep.aggregator.url):
            with pytest.raises(httpx.TransportError):
                httpx.get(url.replace("https://", "http://") + "/healthz", timeout=10)
            with pytest.raises(httpx.ConnectError):
                httpx.get(url + "/healthz", verify=True, timeout=10)
    finally:
        dep.stop()
