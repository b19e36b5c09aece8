"""Flower integration (zkflpq.flower) on the INSECURE_N64 set: mod ↔ strategy driven
directly with Flower Messages (no Ray). The run_simulation test of the example app, the
default-set round are in test_flower_app.py."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

flwr = pytest.importorskip("flwr")

from flwr.app import (  # noqa: E402
    Array,
    ArrayRecord,
    ConfigRecord,
    Context,
    Error,
    Message,
    MetricRecord,
    RecordDict,
)
from flwr.serverapp.strategy import FedAvg  # noqa: E402

from services.flower import InProcessKeyAuthority  # noqa: E402
from zkflpq.bfv import INSECURE_N64  # noqa: E402
from zkflpq.flower import ZkflpqStrategy, make_zkflpq_mod  # noqa: E402
from zkflpq.flower.wire import REPLY_ENVELOPE, REPLY_RECORD  # noqa: E402
from zkflpq.pq import SigningKey  # noqa: E402
from zkflpq.zkbridge import forge_mismatched_update  # noqa: E402

SHAPES = {"w": (6, 10), "b": (10,)}   # d = 70: two chunks of N = 64
TAU, SCALE = 1.0, 4096.0


class FakeGrid:
    def __init__(self, n: int) -> None:
        self.n = n

    def get_node_ids(self):
        return list(range(1, self.n + 1))


@pytest.fixture(scope="module", autouse=True)
def task_identity():
    # Server-side Messages take the run/task id Flower's runtime sets; outside it, set one.
    from flwr.supercore.task_identity import TaskIdentity

    names = [n for n in vars(TaskIdentity) if n.startswith("_") and not n.startswith("__")]
    old = {n: getattr(TaskIdentity, n) for n in names}
    for n in names:
        setattr(TaskIdentity, n, 0 if n == "_node_id" else 1)
    yield
    for n, v in old.items():
        setattr(TaskIdentity, n, v)


@pytest.fixture(scope="module")
def ka():
    return InProcessKeyAuthority(INSECURE_N64.name, min_clients=2)


@pytest.fixture(scope="module")
def keys(ka):
    sks = [SigningKey.generate() for _ in range(5)]
    ka.enrol([sk.verify_key() for sk in sks])
    return sks


def global_arrays(seed: int = 0) -> ArrayRecord:
    rng = np.random.default_rng(seed)
    return ArrayRecord({k: Array(rng.normal(size=s).astype(np.float32))
                        for k, s in SHAPES.items()})


def honest_update(i: int, rnd: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(100 * rnd + i)
    return {k: (0.05 * rng.normal(size=s)).astype(np.float32) for k, s in SHAPES.items()}


_BASES = itertools.count(0, 100)


def make_strategy(ka, k_min: int = 3) -> ZkflpqStrategy:
    # The key authority decrypts each (aggregator, round) once: a round base per test.
    return ZkflpqStrategy(FedAvg(fraction_train=1.0, fraction_evaluate=0.0,
                                 min_available_nodes=1, min_train_nodes=1),
                          ka, k_min=k_min, tau=TAU, scale=SCALE, workers=2,
                          round_base=next(_BASES))


def train_messages(strategy, server_round, arrays, n):
    # FedAvg samples nodes in random order; node i+1 is always client i here (the strategy
    # binds node ids to client ids).
    msgs = strategy.configure_train(server_round, arrays, ConfigRecord({}), FakeGrid(n))
    return sorted(msgs, key=lambda m: m.metadata.dst_node_id)


def client_reply(msg: Message, sk: SigningKey, ka, delta: dict[str, np.ndarray], **mod_kw):
    """Run the mod around a ClientApp that adds ``delta`` to the global arrays."""
    sent: list[Message] = []

    def train(m: Message, ctx: Context) -> Message:
        arrays = m.content["arrays"]
        new = {k: Array(arrays[k].numpy() + delta[k]) for k in arrays.keys()}
        r = Message(RecordDict({"arrays": ArrayRecord(new),
                                "metrics": MetricRecord({"num-examples": 10})}), reply_to=m)
        sent.append(r)
        return r

    mod_kw.setdefault("ka_fingerprint", ka.fingerprint)
    mod = make_zkflpq_mod(signing_key=sk, **mod_kw)
    ctx = Context(run_id=1, node_id=msg.metadata.dst_node_id, node_config={}, state=RecordDict(),
                  run_config={})
    return mod(msg, ctx, train)


def run_round(strategy, ka, keys, server_round, arrays, overrides=None):
    msgs = train_messages(strategy, server_round, arrays, len(keys))
    replies = []
    for i, m in enumerate(msgs):
        f = (overrides or {}).get(i)
        replies.append(f(m) if f else client_reply(m, keys[i], ka, honest_update(i, server_round)))
    return strategy.aggregate_train(server_round, replies), replies


def test_honest_federation_equals_fedavg_mean(ka, keys):
    s = make_strategy(ka)
    g = global_arrays()
    (arrays, metrics), _ = run_round(s, ka, keys, 1, g)
    out = s.history[1]
    assert out.decrypted and len(out.accepted) == 5 and not out.rejected
    for k in SHAPES:
        expect = g[k].numpy() + np.mean([honest_update(i, 1)[k] for i in range(5)], axis=0)
        assert np.max(np.abs(arrays[k].numpy() - expect)) <= 1.0 / SCALE + 1e-6
    assert metrics["zkflpq-accepted"] == 5


def test_poisoner_rejected_and_no_honest_client(ka, keys):
    s = make_strategy(ka)
    g = global_arrays(1)
    big = {k: 50.0 * np.ones(sh, np.float32) for k, sh in SHAPES.items()}
    poison = {3: lambda m: client_reply(m, keys[3], ka, big, clip=False,
                                        build=forge_mismatched_update)}
    (arrays, _), _ = run_round(s, ka, keys, 1, g, poison)
    out = s.history[1]
    assert out.decrypted and len(out.accepted) == 4
    assert [r for r, _ in out.rejected.values()] == ["proof_invalid"]


def test_mod_never_sends_plaintext(ka, keys):
    s = make_strategy(ka)
    g = global_arrays(2)
    m = train_messages(s, 1, g, 1)[0]
    delta = honest_update(0, 1)
    reply = client_reply(m, keys[0], ka, delta)
    assert list(reply.content.keys()) == [REPLY_RECORD]
    assert not reply.content.array_records and not reply.content.metric_records
    env = reply.content[REPLY_RECORD][REPLY_ENVELOPE]
    trained = np.concatenate([(g[k].numpy() + delta[k]).ravel() for k in SHAPES])
    for vec in (trained, np.concatenate([delta[k].ravel() for k in SHAPES])):
        assert vec.astype("<f4").tobytes()[:16] not in env
        assert vec.astype("<f8").tobytes()[:16] not in env


def test_mod_refuses_without_pinned_key_authority(ka, keys):
    s = make_strategy(ka)
    m = train_messages(s, 1, global_arrays(), 1)[0]
    reply = client_reply(m, keys[0], ka, honest_update(0, 1), ka_fingerprint="00" * 32)
    assert reply.has_error() and "pin" in reply.error.reason


def _replace(reply: Message, content: RecordDict) -> Message:
    return Message(content, reply_to=_request_of(reply))


def _request_of(reply: Message) -> Message:
    # A stand-in request addressed to the same node (reply_to needs a Message).
    return Message(RecordDict(), dst_node_id=reply.metadata.src_node_id, message_type="train")


def test_each_bad_input_rejected_with_reason(ka, keys):
    s = make_strategy(ka, k_min=2)
    g = global_arrays(3)
    # A valid round-1 reply of client 4, kept to replay in round 2.
    old = {}
    (_, _), replies1 = run_round(s, ka, keys, 1, g)
    old["r1"] = replies1[4]
    g2 = global_arrays(4)
    msgs = train_messages(s, 2, g2, 5)

    def missing(m):
        return Message(RecordDict({"arrays": g2}), reply_to=m)

    def malformed(m):
        return Message(RecordDict({REPLY_RECORD: ConfigRecord({
            REPLY_ENVELOPE: b"ZKFE\x01garbage", "verify-key": keys[1].verify_key().to_bytes()})}),
            reply_to=m)

    def oversized(m):
        return Message(RecordDict({REPLY_RECORD: ConfigRecord({
            REPLY_ENVELOPE: b"\0" * (s._default_limit(2) + 1),
            "verify-key": keys[2].verify_key().to_bytes()})}), reply_to=m)

    def replayed(m):
        return Message(old["r1"].content, reply_to=m)

    replies = [missing(msgs[0]), malformed(msgs[1]), oversized(msgs[2]),
               client_reply(msgs[3], keys[3], ka, honest_update(3, 2)), replayed(msgs[4])]
    arrays, _ = s.aggregate_train(2, replies)
    out = s.history[2]
    reasons = {node: r for node, (r, _d) in out.rejected.items()}
    assert reasons == {1: "missing", 2: "malformed", 3: "too_large", 5: "wrong_round"}
    assert out.accepted == [] and not out.decrypted   # one accepted < K_min = 2
    assert out.refusal.startswith("too_few_clients") and arrays is None


def test_mismatched_ciphertext_and_proof(ka, keys):
    s = make_strategy(ka, k_min=2)
    msgs = train_messages(s, 1, global_arrays(5), 3)
    a = client_reply(msgs[0], keys[0], ka, honest_update(0, 1))
    b = client_reply(msgs[1], keys[1], ka, honest_update(1, 1))
    from zkflpq.client_pipeline import open_update, sign_update

    ua = open_update(a.content[REPLY_RECORD][REPLY_ENVELOPE], max_bytes=10**9)
    ub = open_update(b.content[REPLY_RECORD][REPLY_ENVELOPE], max_bytes=10**9)
    # Client 2 signs client 1's ciphertexts with its own proof: the signature is valid,
    # the proof is for other ciphertexts (and another client's context).
    env = sign_update(keys[2], round_id=ua.round_id, ciphertexts=ua.ciphertexts,
                      proof=ub.proof, aggregator_id=ka.aggregator_id,
                      deployment=ka.fingerprint, k_min=2)
    c = Message(RecordDict({REPLY_RECORD: ConfigRecord({
        REPLY_ENVELOPE: env, "verify-key": keys[2].verify_key().to_bytes()})}), reply_to=msgs[2])
    s.aggregate_train(1, [a, b, c])
    out = s.history[1]
    assert out.rejected[3][0] == "proof_invalid" and sorted(out.accepted) == [1, 2]


def test_refuses_to_decrypt_below_k_min(ka, keys):
    s = make_strategy(ka, k_min=3)
    msgs = train_messages(s, 1, global_arrays(6), 2)
    replies = [client_reply(m, keys[i], ka, honest_update(i, 1)) for i, m in enumerate(msgs)]
    calls = []
    real = ka.decrypt
    ka.decrypt = lambda *a, **k: calls.append(a) or real(*a, **k)
    try:
        arrays, metrics = s.aggregate_train(1, replies)
    finally:
        del ka.decrypt
    assert arrays is None and calls == [] and s.history[1].refusal.startswith("too_few")


def _dropped(m: Message) -> Message:
    # What Flower's runtime puts in place of a node that went away mid-round.
    return Message(Error(code=2, reason="node disconnected"), reply_to=m)


def test_dropout_mid_round_does_not_stall(ka, keys):
    s = make_strategy(ka, k_min=3)
    msgs = train_messages(s, 1, global_arrays(8), 5)
    replies = [client_reply(m, keys[i], ka, honest_update(i, 1)) if i < 3 else _dropped(m)
               for i, m in enumerate(msgs)]
    arrays, metrics = s.aggregate_train(1, replies)
    out = s.history[1]
    assert out.decrypted and sorted(out.accepted) == [1, 2, 3] and sorted(out.dropped) == [4, 5]
    assert arrays is not None and metrics["zkflpq-dropped"] == 2


def test_dropouts_below_k_min_refuse_and_keep_the_model(ka, keys):
    s = make_strategy(ka, k_min=3)
    msgs = train_messages(s, 1, global_arrays(9), 5)
    replies = [client_reply(m, keys[i], ka, honest_update(i, 1)) if i < 2 else _dropped(m)
               for i, m in enumerate(msgs)]
    arrays, _ = s.aggregate_train(1, replies)
    out = s.history[1]
    assert arrays is None and not out.decrypted and len(out.dropped) == 3
    assert out.refusal.startswith("too_few")
