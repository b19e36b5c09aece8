"""X-Wing hybrid KEM (ML-KEM-768 + X25519), draft-connolly-cfrg-xwing-kem-10.

Section numbers below refer to that draft.  ML-KEM-768 and X25519 come from
``cryptography`` (OpenSSL); SHAKE256 and SHA3-256 from ``cryptography`` too.

Sizes (§5.1): decapsulation key 32 bytes (a seed), encapsulation key 1216 bytes
``pk_M(1184) || pk_X(32)``, ciphertext 1120 bytes ``ct_M(1088) || ct_X(32)``,
shared secret 32 bytes.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.asymmetric import mlkem as _mlkem
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)

from ._util import as_bytes, sha3_256, shake256
from .errors import DecodeError, KeyLengthError

__all__ = [
    "CIPHERTEXT_SIZE",
    "PRIVATE_KEY_SIZE",
    "PUBLIC_KEY_SIZE",
    "SHARED_SECRET_SIZE",
    "XWING_LABEL",
    "XWingPrivateKey",
    "XWingPublicKey",
    "combiner",
]

PRIVATE_KEY_SIZE = 32
PUBLIC_KEY_SIZE = 1216
CIPHERTEXT_SIZE = 1120
SHARED_SECRET_SIZE = 32

_PK_M_SIZE = 1184
_CT_M_SIZE = 1088
_X25519_SIZE = 32

# §5.3: the 6-byte ASCII label "\./" || "/^\" (hex 5c2e2f2f5e5c).
XWING_LABEL = b"\\./" + b"/^\\"

# Fixed scalar used only to test whether a received X25519 public key lies in
# the small subgroup (see XWingPublicKey.from_bytes); it is not a secret.
_PROBE_SCALAR = bytes([0x48]) + bytes(30) + bytes([0x40])


def combiner(ss_m: bytes, ss_x: bytes, ct_x: bytes, pk_x: bytes) -> bytes:
    """Combiner (§5.3): ``SHA3-256(ss_M || ss_X || ct_X || pk_X || XWingLabel)``."""
    return sha3_256(ss_m + ss_x + ct_x + pk_x + XWING_LABEL)


def _x25519(scalar: X25519PrivateKey, u: bytes) -> bytes:
    """RFC 7748 X25519(k, u) that returns the all-zero string for small-order ``u``.

    OpenSSL refuses to output the all-zero shared secret; the X-Wing draft uses
    plain X25519 with no such check, so decapsulation must not fail on it (the
    ciphertext is attacker-chosen and a KEM decapsulation never errors).
    """
    try:
        return scalar.exchange(X25519PublicKey.from_public_bytes(u))
    except ValueError:
        return bytes(_X25519_SIZE)


class XWingPublicKey:
    """An X-Wing encapsulation key ``pk_M || pk_X``."""

    __slots__ = ("_pk_m", "_pk_x", "_raw")

    def __init__(self, pk_m: _mlkem.MLKEM768PublicKey, pk_x: bytes) -> None:
        self._pk_m = pk_m
        self._pk_x = pk_x
        self._raw = pk_m.public_bytes_raw() + pk_x

    @classmethod
    def from_bytes(cls, data: bytes) -> XWingPublicKey:
        """Decode a 1216-byte encapsulation key.

        The ML-KEM half gets the FIPS 203 §7.2 modulus check (required by §4).
        We additionally reject a small-order X25519 half: honest key generation
        never produces one, and accepting it would silently drop the
        classical half of the hybrid.
        """
        data = as_bytes(data, "public key")
        if len(data) != PUBLIC_KEY_SIZE:
            raise KeyLengthError(f"X-Wing public key must be {PUBLIC_KEY_SIZE} bytes",
                                 expected=PUBLIC_KEY_SIZE, actual=len(data))
        pk_m_bytes, pk_x = data[:_PK_M_SIZE], data[_PK_M_SIZE:]
        try:
            pk_m = _mlkem.MLKEM768PublicKey.from_public_bytes(pk_m_bytes)
        except ValueError as exc:
            raise DecodeError("invalid ML-KEM-768 half of X-Wing public key") from exc
        probe = X25519PrivateKey.from_private_bytes(_PROBE_SCALAR)
        if _x25519(probe, pk_x) == bytes(_X25519_SIZE):
            raise DecodeError("X25519 half of X-Wing public key has small order")
        return cls(pk_m, pk_x)

    def to_bytes(self) -> bytes:
        return self._raw

    def encapsulate(self) -> tuple[bytes, bytes]:
        """Encapsulate (§5.4): return ``(shared_secret, ciphertext)``."""
        ek_x = X25519PrivateKey.generate()
        ct_x = ek_x.public_key().public_bytes_raw()
        ss_x = _x25519(ek_x, self._pk_x)
        ss_m, ct_m = self._pk_m.encapsulate()
        return combiner(ss_m, ss_x, ct_x, self._pk_x), ct_m + ct_x


class XWingPrivateKey:
    """An X-Wing decapsulation key: a 32-byte seed plus its cached expansion (§5.5.1)."""

    __slots__ = ("_seed", "_sk_m", "_sk_x", "_public")

    def __init__(self, seed: bytes) -> None:
        # expandDecapsulationKey (§5.2): SHAKE256(sk, 96 bytes) →
        # ML-KEM-768.KeyGen_internal(d = [0:32], z = [32:64]) and sk_X = [64:96].
        expanded = shake256(seed, 96)
        self._seed = seed
        self._sk_m = _mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[0:64])
        self._sk_x = X25519PrivateKey.from_private_bytes(expanded[64:96])
        pk_x = self._sk_x.public_key().public_bytes_raw()
        self._public = XWingPublicKey(self._sk_m.public_key(), pk_x)

    @classmethod
    def generate(cls) -> XWingPrivateKey:
        """GenerateKeyPair (§5.2): ``sk = random(32)``."""
        return cls(os.urandom(PRIVATE_KEY_SIZE))

    @classmethod
    def from_seed(cls, seed: bytes) -> XWingPrivateKey:
        """GenerateKeyPairDerand (§5.2.1) from a 32-byte decapsulation key."""
        seed = as_bytes(seed, "seed")
        if len(seed) != PRIVATE_KEY_SIZE:
            raise KeyLengthError(f"X-Wing private key must be {PRIVATE_KEY_SIZE} bytes",
                                 expected=PRIVATE_KEY_SIZE, actual=len(seed))
        return cls(seed)

    from_bytes = from_seed

    def to_bytes(self) -> bytes:
        """The 32-byte decapsulation key (the seed); the expansion is never exported."""
        return self._seed

    def public_key(self) -> XWingPublicKey:
        return self._public

    def decapsulate(self, ciphertext: bytes) -> bytes:
        """Decapsulate (§5.5).  Never fails on a well-sized ciphertext (implicit rejection)."""
        ciphertext = as_bytes(ciphertext, "ciphertext")
        if len(ciphertext) != CIPHERTEXT_SIZE:
            raise DecodeError(f"X-Wing ciphertext must be {CIPHERTEXT_SIZE} bytes")
        ct_m, ct_x = ciphertext[:_CT_M_SIZE], ciphertext[_CT_M_SIZE:]
        ss_m = self._sk_m.decapsulate(ct_m)
        ss_x = _x25519(self._sk_x, ct_x)
        return combiner(ss_m, ss_x, ct_x, self._public._pk_x)
