"""What zkflpq adds to Flower messages (both directions), in one place.

Server → client (train message, in the strategy's ``ConfigRecord``, keys ``zkflpq.*``):
the round id, aggregator id, K_min, τ, scale, parameter set, and the key authority's BFV
public key with its ML-DSA signature and verify key (the client checks the signature
against the key authority fingerprint it pins; the server is not trusted for the key).

Client → server (train reply): exactly one ``ConfigRecord`` named :data:`REPLY_RECORD`
holding the signed update envelope (:func:`zkflpq.client_pipeline.sign_update`) and the
client's ML-DSA verify key. No ArrayRecord, no MetricRecord: nothing in the clear.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CFG", "REPLY_RECORD", "REPLY_ENVELOPE", "REPLY_VERIFY_KEY", "server_config",
           "read_server_config"]

REPLY_RECORD = "zkflpq"
REPLY_ENVELOPE = "envelope"
REPLY_VERIFY_KEY = "verify-key"

CFG = {
    "round": "zkflpq.round-id",
    "aggregator": "zkflpq.aggregator-id",
    "k_min": "zkflpq.k-min",
    "tau": "zkflpq.tau",
    "scale": "zkflpq.scale",
    "params": "zkflpq.params",
    "bfv_pk": "zkflpq.bfv-public-key",
    "bfv_pk_sig": "zkflpq.bfv-public-key-signature",
    "ka_vk": "zkflpq.key-authority-verify-key",
}


def server_config(*, round_id: int, aggregator_id: str, k_min: int, tau: float, scale: float,
                  params: str, bfv_pk: bytes, bfv_pk_sig: bytes, ka_vk: bytes
                  ) -> dict[str, Any]:
    return {CFG["round"]: round_id, CFG["aggregator"]: aggregator_id, CFG["k_min"]: k_min,
            CFG["tau"]: float(tau), CFG["scale"]: float(scale), CFG["params"]: params,
            CFG["bfv_pk"]: bfv_pk, CFG["bfv_pk_sig"]: bfv_pk_sig, CFG["ka_vk"]: ka_vk}


def read_server_config(config: Any) -> dict[str, Any] | None:
    """The zkflpq keys of a train ConfigRecord, typed; None when any is missing/mistyped."""
    types = {"round": int, "aggregator": str, "k_min": int, "tau": float, "scale": float,
             "params": str, "bfv_pk": bytes, "bfv_pk_sig": bytes, "ka_vk": bytes}
    out: dict[str, Any] = {}
    for name, key in CFG.items():
        v = config.get(key) if hasattr(config, "get") else None
        if isinstance(v, bool) or not isinstance(v, types[name]):
            return None
        out[name] = v
    return out
