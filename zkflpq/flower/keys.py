"""ML-DSA identities of SuperNodes as key files.

A SuperNode's signing key is a file only that node reads (``node-config``
``zkflpq-signing-key``, or ``<zkflpq-key-dir>/node-<partition-id>.sk`` in simulation); its
client id is derived from the public key (:func:`zkflpq.protocol.client_id_for`), so a
Flower node id never has to be trusted: the server binds each node id to the client id it
first signs with, and the key authority decrypts only updates of enrolled client ids.
Keys come from ML-DSA key generation (the OS CSPRNG, through ``cryptography``).
"""

from __future__ import annotations

import os
from pathlib import Path

from zkflpq.pq import SigningKey, VerifyKey

__all__ = ["load_signing_key", "provision_keys", "simulation_key_path"]


def simulation_key_path(key_dir: str | Path, partition_id: int) -> Path:
    return Path(key_dir) / f"node-{int(partition_id)}.sk"


def provision_keys(key_dir: str | Path, n: int) -> list[VerifyKey]:
    """Create (or reuse) ``n`` node keys in ``key_dir``; returns their verify keys in
    partition order. Files are created 0600 with O_EXCL, never overwritten."""
    d = Path(key_dir)
    d.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        path = simulation_key_path(d, i)
        if not path.exists():
            sk = SigningKey.generate()
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process created it first: use theirs
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(sk.to_bytes())
        out.append(load_signing_key(path).verify_key())
    return out


def load_signing_key(path: str | Path) -> SigningKey:
    return SigningKey.from_bytes(Path(path).read_bytes())
