"""Service settings (pydantic-settings): environment variables ``ZKFLPQ_*``.

Both services read the same prefix, so one environment can configure either; the CLI
passes explicit values for whatever it is given on the command line (they win).
Secrets (the admin token) are ``SecretStr`` so they never appear in reprs or logs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["AggregatorSettings", "KeyAuthoritySettings", "ServiceSettings"]


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZKFLPQ_", extra="ignore")

    data_dir: Path = Field(default=Path("./data"), description="keys, SQLite store, audit log")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/<service>.sqlite3")
    host: str = "127.0.0.1"
    port: int = 8000
    admin_token: SecretStr | None = Field(
        default=None, description="admin bearer token; default: <data_dir>/admin.token")
    log_level: str = "INFO"
    log_json: bool = True
    max_body_bytes: int = Field(default=256 * 1024 * 1024, ge=1024,
                                description="upload size limit (413 above it)")
    timestamp_window_s: int = Field(default=300, ge=1,
                                    description="accepted clock skew of signed requests")
    header_timeout_s: float = Field(
        default=10.0, gt=0, le=3600,
        description="a connection whose request line and headers are not complete this many "
                    "seconds after it opened (or after its previous response) is closed "
                    "(408 if it sent part of a request)")
    body_timeout_s: float = Field(
        default=120.0, gt=0,
        description="an upload's whole body must arrive within this many seconds of its "
                    "headers: 408 body_timeout and the connection is closed")
    max_uploads_per_sender: int = Field(
        default=2, ge=1, le=10_000,
        description="concurrent uploads (update submissions, decryption requests) per "
                    "sender; more get 429 too_many_uploads before their body is read")
    kem: Literal["xwing", "mlkem768"] = "xwing"
    tls_certfile: Path | None = Field(
        default=None, description="serve HTTPS: PEM certificate chain (with tls_keyfile)")
    tls_keyfile: Path | None = Field(
        default=None, description="serve HTTPS: PEM private key of tls_certfile")

    @model_validator(mode="after")
    def _check_tls(self) -> Self:
        cert, key = self.tls_certfile, self.tls_keyfile
        if (cert is None) != (key is None):
            given, missing = (("tls_certfile", "tls_keyfile") if key is None
                              else ("tls_keyfile", "tls_certfile"))
            raise ValueError(f"TLS needs both a certificate and its key: {given} is set but "
                             f"{missing} is not (ZKFLPQ_{missing.upper()})")
        for name, path in (("tls_certfile", cert), ("tls_keyfile", key)):
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: no such file: {path}")
        return self


class AggregatorSettings(ServiceSettings):
    key_authority_url: str = "http://127.0.0.1:8001"
    key_authority_fingerprint: str | None = Field(
        default=None, description="pin: SHA3 fingerprint of the key authority's signing key")
    key_authority_ca_file: Path | None = Field(
        default=None, description="PEM CA bundle that signed an https key authority's "
                                  "certificate (default: the system's trust store)")
    aggregator_id: str | None = Field(default=None, description="default: from the signing key")
    instance_id: str | None = Field(
        default=None, description="this process among several sharing one database "
                                  "(default: host:port); owns its in-flight rows")
    verify_workers: int = Field(default=2, ge=1, le=64)
    verify_queue: int = Field(default=8, ge=0, le=10_000,
                              description="submissions waiting beyond the busy workers; "
                                          "more get 429")
    verify_executor: Literal["process", "thread", "inline"] = "process"
    pending_takeover_s: float = Field(
        default=120.0, gt=0, description="an in-flight row older than this is abandoned")
    retry_wait_s: float = Field(
        default=60.0, gt=0, description="a resubmission waits this long for the original")
    key_authority_timeout_s: float = 300.0
    key_authority_wait_s: float = Field(
        default=60.0, ge=0, le=86_400,
        description="at first start (no pinned key authority in the data directory yet), "
                    "wait this long for the key authority to answer, then exit")
    verify_delay_s: float = Field(
        default=0.0, ge=0, le=60,
        description="fault injection for drills and tests: extra seconds every verification "
                    "holds its worker slot (default 0)")
    max_proof_bytes: int = 64 * 1024 * 1024
    max_rejected_per_client: int = Field(
        default=5, ge=1, le=1_000_000,
        description="proofs of one client the verifier may reject in one round; further "
                    "uploads of that client in that round are refused before verification")


class KeyAuthoritySettings(ServiceSettings):
    port: int = 8001
    min_clients: int = Field(default=2, ge=1,
                             description="floor on K_min whatever the aggregator asks for")
    max_body_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)
    body_timeout_s: float = Field(default=600.0, gt=0,
                                  description="decryption requests are up to 1 GiB")
