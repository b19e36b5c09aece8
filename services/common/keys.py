"""Key and token files in a service's data directory (private files are mode 0600)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from zkflpq.pq import KemAlgorithm, KemPrivateKey, SigningKey, VerifyKey, load_key, save_key

__all__ = [
    "KEM_ALGS",
    "admin_token",
    "load_or_create_kem",
    "load_or_create_signing",
    "write_secret_text",
]

KEM_ALGS = {"xwing": KemAlgorithm.XWING, "mlkem768": KemAlgorithm.MLKEM768}


def write_secret_text(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(text)


def load_or_create_kem(path: Path, alg: KemAlgorithm) -> KemPrivateKey:
    if path.exists():
        key = load_key(path, KemPrivateKey)
        return key
    key = KemPrivateKey.generate(alg)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_key(path, key)
    save_key(path.parent / (path.name + ".pub"), key.public_key(), overwrite=True)
    return key


def load_or_create_signing(path: Path) -> SigningKey:
    if path.exists():
        return load_key(path, SigningKey)
    key = SigningKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_key(path, key)
    save_key(path.parent / (path.name + ".pub"), key.verify_key(), overwrite=True)
    return key


def load_verify_key(path: Path) -> VerifyKey:
    return load_key(path, VerifyKey)


def admin_token(data_dir: Path, configured: str | None, create: bool = True) -> str:
    """The configured token, else ``<data_dir>/admin.token`` (created, 0600, if absent)."""
    if configured:
        return configured
    path = data_dir / "admin.token"
    if path.exists():
        token = path.read_text().strip()
        if token:
            return token
    if not create:
        raise FileNotFoundError(f"no admin token: set ZKFLPQ_ADMIN_TOKEN or create {path}")
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    write_secret_text(path, token + "\n")
    return token
