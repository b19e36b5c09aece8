"""The key authority refuses to start on key files that would make every decryption of
the aggregate wrong: a public key that is not the secret key's, or one outside A-key."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from services.common.settings import KeyAuthoritySettings
from services.key_authority.service import KeyAuthorityService, init_key_authority
from zkflpq.bfv import INSECURE_N64, encode_public_key, keygen


def _service(data: Path) -> KeyAuthorityService:
    return KeyAuthorityService(KeyAuthoritySettings(data_dir=data), CollectorRegistry())


def test_key_authority_starts_on_its_own_keys(tmp_path: Path) -> None:
    init_key_authority(tmp_path, INSECURE_N64.name, admin="t" * 32)
    svc = _service(tmp_path)
    assert svc.params == INSECURE_N64


def test_key_authority_refuses_a_swapped_public_key(tmp_path: Path) -> None:
    init_key_authority(tmp_path, INSECURE_N64.name, admin="t" * 32)
    _, other = keygen(INSECURE_N64)
    (tmp_path / "bfv.pk").write_bytes(encode_public_key(other))
    with pytest.raises(ValueError, match="does not belong|A-key"):
        _service(tmp_path)
