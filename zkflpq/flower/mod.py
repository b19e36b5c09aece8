"""Client mod: the ClientApp's train reply leaves the SuperNode only as ciphertexts + proof.

``ClientApp(train=..., mods=[zkflpq_mod])``. On a train message the mod remembers the
global arrays, lets the ClientApp train, then computes update = trained − global, clips it
to τ, quantises, BFV-encrypts under the key authority's public key (checked against the
pinned key authority fingerprint), proves ‖update‖ ≤ B and signs with the node's ML-DSA
key — :func:`zkflpq.client_pipeline.prepare_update` / ``sign_update``, the same pipeline
as the REST agent. The reply carries only :data:`zkflpq.flower.wire.REPLY_RECORD`.

If anything is wrong (no zkflpq config from the server, a BFV key not signed by the pinned
key authority, a K_min below this node's floor, a reply whose arrays do not match the
global model) the mod answers with a Flower ``Error`` and sends no update at all: a
failure never falls back to plaintext.

Node configuration (``node-config`` / ``--node-config``):
``zkflpq-signing-key`` (path) or ``zkflpq-key-dir`` + ``partition-id``;
``zkflpq-ka-fingerprint`` (pin; in simulation also read from ``<key-dir>/ka.fingerprint``);
``zkflpq-min-k-min`` (this node's floor on K_min, default 2).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Error, Message, RecordDict

from zkflpq.bfv import decode_public_key, get_params
from zkflpq.client_pipeline import BuildFn, prepare_update, sign_update
from zkflpq.pq import SignatureError, SigningKey, VerifyKey
from zkflpq.protocol import CTX_BFV_KEY, bfv_key_message, client_id_for

from .keys import load_signing_key, simulation_key_path
from .wire import REPLY_ENVELOPE, REPLY_RECORD, REPLY_VERIFY_KEY, read_server_config

__all__ = ["ZKFLPQ_ERROR_CODE", "flatten_arrays", "make_zkflpq_mod", "zkflpq_mod"]

log = logging.getLogger("zkflpq.flower.mod")

ZKFLPQ_ERROR_CODE = 7301  # Flower error code of a mod refusal (no update sent)

Mod = Callable[[Message, Context, Callable[[Message, Context], Message]], Message]


def flatten_arrays(record: ArrayRecord) -> tuple[list[str], list[tuple[int, ...]], np.ndarray]:
    """(keys, shapes, flat float64 vector) of an ArrayRecord, in the record's key order."""
    keys = list(record.keys())
    arrays = record.to_numpy_ndarrays()
    shapes = [tuple(a.shape) for a in arrays]
    flat = (np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays])
            if arrays else np.zeros(0))
    return keys, shapes, flat


class _Refusal(Exception):
    pass


def _node_key(context: Context, signing_key: SigningKey | None) -> SigningKey:
    if signing_key is not None:
        return signing_key
    cfg = context.node_config
    path = cfg.get("zkflpq-signing-key")
    if not path and "zkflpq-key-dir" in cfg and "partition-id" in cfg:
        path = str(simulation_key_path(str(cfg["zkflpq-key-dir"]), int(cfg["partition-id"])))
    if not path:
        raise _Refusal("no ML-DSA key: set node-config zkflpq-signing-key (or zkflpq-key-dir)")
    try:
        return load_signing_key(str(path))
    except (OSError, ValueError) as exc:
        raise _Refusal(f"cannot load the node's signing key {path}: {exc}") from None


def _ka_pin(context: Context, pin: str | None) -> str:
    if pin:
        return pin.lower()
    cfg = context.node_config
    if cfg.get("zkflpq-ka-fingerprint"):
        return str(cfg["zkflpq-ka-fingerprint"]).lower()
    if cfg.get("zkflpq-key-dir"):
        f = Path(str(cfg["zkflpq-key-dir"])) / "ka.fingerprint"
        if f.exists():
            return f.read_text().strip().lower()
    raise _Refusal("no key authority pin: set node-config zkflpq-ka-fingerprint")


def make_zkflpq_mod(*, signing_key: SigningKey | None = None, ka_fingerprint: str | None = None,
                    min_k_min: int | None = None, clip: bool = True,
                    build: BuildFn | None = None,
                    transform: Callable[[np.ndarray, int], np.ndarray] | None = None) -> Mod:
    """A mod with explicit settings (else read from the node config, see module doc).

    ``clip=False`` / ``build`` / ``transform(update, round)`` exist to play attackers in
    tests and demos (an honest deployment uses :func:`zkflpq_mod`)."""

    def mod(msg: Message, context: Context,
            call_next: Callable[[Message, Context], Message]) -> Message:
        if msg.metadata.message_type.split(".")[0] != "train":
            return call_next(msg, context)  # evaluate/query replies carry no model update
        try:
            prep = _before(msg, context)
        except _Refusal as exc:
            return _refuse(msg, str(exc))
        reply = call_next(msg, context)
        if reply.has_error():
            return reply
        try:
            return _after(msg, reply, context, prep)
        except _Refusal as exc:
            return _refuse(msg, str(exc))

    def _before(msg: Message, context: Context) -> dict[str, Any]:
        if len(msg.content.config_records) != 1 or len(msg.content.array_records) != 1:
            raise _Refusal("train message needs exactly one ConfigRecord and one ArrayRecord")
        cfg = read_server_config(next(iter(msg.content.config_records.values())))
        if cfg is None:
            raise _Refusal("the server sent no zkflpq configuration: is the ServerApp "
                           "using ZkflpqStrategy?")
        floor = min_k_min if min_k_min is not None else int(
            context.node_config.get("zkflpq-min-k-min", 2))
        if cfg["k_min"] < floor:
            raise _Refusal(f"K_min = {cfg['k_min']} is below this node's floor {floor}")
        try:
            ka_vk = VerifyKey.from_bytes(cfg["ka_vk"])
            params = get_params(cfg["params"])
        except (ValueError, KeyError) as exc:
            raise _Refusal(f"bad key authority parameters: {exc}") from None
        if ka_vk.fingerprint() != _ka_pin(context, ka_fingerprint):
            raise _Refusal("the key authority's signing key does not match the pin")
        try:
            ka_vk.verify(cfg["bfv_pk_sig"], bfv_key_message(params.name, params.id_bytes,
                                                            cfg["bfv_pk"]), CTX_BFV_KEY)
            pk = decode_public_key(cfg["bfv_pk"], params)
        except (SignatureError, ValueError) as exc:
            raise _Refusal(f"BFV public key is not the key authority's: {exc}") from None
        arrays = next(iter(msg.content.array_records.values()))
        keys, shapes, flat = flatten_arrays(arrays)
        return {"cfg": cfg, "pk": pk, "ka_vk": ka_vk, "keys": keys, "shapes": shapes,
                "global": flat, "sk": _node_key(context, signing_key)}

    def _after(msg: Message, reply: Message, context: Context,
               prep: dict[str, Any]) -> Message:
        if len(reply.content.array_records) != 1:
            raise _Refusal("the ClientApp's train reply needs exactly one ArrayRecord")
        keys, shapes, trained = flatten_arrays(next(iter(reply.content.array_records.values())))
        if keys != prep["keys"] or shapes != prep["shapes"]:
            raise _Refusal("the ClientApp's arrays do not match the global model's")
        cfg = prep["cfg"]
        update = trained - prep["global"]
        if transform is not None:
            update = np.asarray(transform(update, int(cfg["round"])), dtype=np.float64)
        sk: SigningKey = prep["sk"]
        cid = client_id_for(sk.verify_key())
        t0 = time.perf_counter()
        try:
            prepared = prepare_update(prep["pk"], update, tau=cfg["tau"], scale=cfg["scale"],
                                      aggregator_id=cfg["aggregator"], round_id=cfg["round"],
                                      client_id=cid, clip=clip, build=build)
        except ValueError as exc:
            raise _Refusal(f"cannot encrypt this update: {exc}") from None
        envelope = sign_update(sk, round_id=cfg["round"], ciphertexts=prepared.ciphertexts,
                               proof=prepared.proof, aggregator_id=cfg["aggregator"],
                               deployment=prep["ka_vk"].fingerprint(), k_min=cfg["k_min"],
                               client_id=cid)
        log.info("zkflpq_mod: round %s: update encrypted and proven in %.1f s (%d bytes)",
                 cfg["round"], time.perf_counter() - t0, len(envelope))
        # A new RecordDict: the trained arrays and the ClientApp's metrics stay here.
        content = RecordDict({REPLY_RECORD: ConfigRecord({
            REPLY_ENVELOPE: envelope, REPLY_VERIFY_KEY: sk.verify_key().to_bytes()})})
        return Message(content, reply_to=msg)

    return mod


def _refuse(msg: Message, reason: str) -> Message:
    log.warning("zkflpq_mod refused to send an update: %s", reason)
    return Message(Error(code=ZKFLPQ_ERROR_CODE, reason=f"zkflpq_mod: {reason}"), reply_to=msg)


# The mod with every setting from the node config: ClientApp(mods=[zkflpq_mod]).
zkflpq_mod = make_zkflpq_mod()
