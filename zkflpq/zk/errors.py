"""Typed errors of the proof layer."""

from __future__ import annotations

__all__ = ["ZkError", "ProofDecodeError", "NormBoundExceeded", "ProvingFailed"]


class ZkError(Exception):
    """Base class for zkflpq.zk errors."""


class ProofDecodeError(ZkError, ValueError):
    """A proof (or one of its fields) is not a canonical encoding."""


class NormBoundExceeded(ZkError, ValueError):
    """The prover's own update has ‖m‖ > B: it cannot (and must not) prove."""


class ProvingFailed(ZkError, RuntimeError):
    """Rejection sampling did not terminate within the retry limit (should not happen)."""
