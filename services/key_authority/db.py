"""Key-authority storage: its own SQLite database (or ``ZKFLPQ_DATABASE_URL``).

``decryptions`` has ``UNIQUE(aggregator_id, round_id)`` and ``summed_ciphertexts`` has the
SHA3 of every ciphertext ever summed as primary key; both are claimed in one transaction
before anything is decrypted, so a round is decrypted at most once and a ciphertext
enters at most one decryption, even across restarts and aggregator identities; an
identical request (same set of signed updates) gets the stored result back.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import Float, Integer, LargeBinary, String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from ..aggregator.db import make_engine

__all__ = ["KaStore"]


class Base(DeclarativeBase):
    pass


class KaClient(Base):
    __tablename__ = "ka_clients"
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    verify_key: Mapped[bytes] = mapped_column(LargeBinary)
    label: Mapped[str] = mapped_column(String(200), default="")
    enrolled_at: Mapped[float] = mapped_column(Float)


class KaAggregator(Base):
    __tablename__ = "ka_aggregators"
    aggregator_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    verify_key: Mapped[bytes] = mapped_column(LargeBinary)
    enrolled_at: Mapped[float] = mapped_column(Float)


class KaDecryption(Base):
    __tablename__ = "ka_decryptions"
    __table_args__ = (UniqueConstraint("aggregator_id", "round_id", name="uq_agg_round"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    aggregator_id: Mapped[str] = mapped_column(String(128))
    round_id: Mapped[int] = mapped_column(Integer)
    request_digest: Mapped[str] = mapped_column(String(64))
    n_summed: Mapped[int] = mapped_column(Integer)
    client_ids: Mapped[str] = mapped_column(Text)
    result: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    result_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class KaSummedCiphertext(Base):
    """One row per ciphertext ever included in a decryption (primary key: its SHA3)."""

    __tablename__ = "ka_summed_ciphertexts"
    ct_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    decryption_id: Mapped[int] = mapped_column(Integer, index=True)


class KaNonce(Base):
    __tablename__ = "ka_nonces"
    sender: Mapped[str] = mapped_column(String(128), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[float] = mapped_column(Float)


class KaStore:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)

    def create_all(self) -> None:
        Base.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    def enrol_client(self, client_id: str, vk: bytes, label: str) -> bool:
        with self.Session() as s:
            row = s.get(KaClient, client_id)
            if row is not None:
                if row.verify_key != vk:
                    raise ValueError("client id already enrolled with another key")
                return False
            s.add(KaClient(client_id=client_id, verify_key=vk, label=label,
                           enrolled_at=time.time()))
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                return False
            return True

    def client_keys(self, client_ids: list[str]) -> dict[str, bytes]:
        with self.Session() as s:
            rows = s.scalars(select(KaClient).where(KaClient.client_id.in_(client_ids)))
            return {r.client_id: r.verify_key for r in rows}

    def enrol_aggregator(self, aggregator_id: str, vk: bytes) -> bool:
        with self.Session() as s:
            row = s.get(KaAggregator, aggregator_id)
            if row is not None:
                if row.verify_key != vk:
                    raise ValueError("aggregator id already enrolled with another key")
                return False
            s.add(KaAggregator(aggregator_id=aggregator_id, verify_key=vk,
                               enrolled_at=time.time()))
            s.commit()
            return True

    def aggregator_key(self, aggregator_id: str) -> bytes | None:
        with self.Session() as s:
            row = s.get(KaAggregator, aggregator_id)
            return None if row is None else row.verify_key

    def use_nonce(self, sender: str, nonce: str) -> bool:
        with self.Session() as s:
            s.add(KaNonce(sender=sender, nonce=nonce, seen_at=time.time()))
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                return False
            return True

    def prune_nonces(self, older_than: float) -> int:
        from sqlalchemy import delete

        with self.Session() as s:
            res = s.execute(delete(KaNonce).where(KaNonce.seen_at < older_than))
            s.commit()
            return int(getattr(res, "rowcount", 0) or 0)

    def claim_round(self, aggregator_id: str, round_id: int, request_digest: str,
                    client_ids: list[str], ct_hashes: list[str]
                    ) -> tuple[str, dict[str, Any] | None]:
        """Claim the round and its ciphertexts in one transaction.

        ("claimed", None) | ("same", row) for an identical earlier request |
        ("other", row) when the round was already decrypted for different inputs |
        ("reused", None) when a ciphertext is already part of another decryption."""
        with self.Session() as s:
            row = KaDecryption(aggregator_id=aggregator_id, round_id=round_id,
                               request_digest=request_digest, n_summed=len(client_ids),
                               client_ids=json.dumps(client_ids), created_at=time.time())
            s.add(row)
            try:
                s.flush()
                s.add_all(KaSummedCiphertext(ct_hash=h, decryption_id=row.id)
                          for h in ct_hashes)
                s.commit()
                return "claimed", None
            except IntegrityError:
                s.rollback()
            prior = s.scalars(select(KaDecryption).where(
                KaDecryption.aggregator_id == aggregator_id,
                KaDecryption.round_id == round_id)).one_or_none()
            if prior is None:
                return "reused", None
            doc = {"request_digest": prior.request_digest, "n_summed": prior.n_summed,
                   "result": prior.result, "signature": prior.signature,
                   "client_ids": json.loads(prior.client_ids)}
            return ("same" if prior.request_digest == request_digest else "other"), doc

    def finish_round(self, aggregator_id: str, round_id: int, result: bytes,
                     result_digest: str, signature: bytes) -> None:
        with self.Session() as s:
            row = s.scalars(select(KaDecryption).where(
                KaDecryption.aggregator_id == aggregator_id,
                KaDecryption.round_id == round_id)).one()
            row.result = result
            row.result_digest = result_digest
            row.signature = signature
            row.finished_at = time.time()
            s.commit()

    def list_decryptions(self) -> list[dict[str, Any]]:
        with self.Session() as s:
            return [{"aggregator_id": r.aggregator_id, "round_id": r.round_id,
                     "n_summed": r.n_summed, "client_ids": json.loads(r.client_ids),
                     "request_digest": r.request_digest, "result_digest": r.result_digest,
                     "created_at": r.created_at, "finished_at": r.finished_at}
                    for r in s.scalars(select(KaDecryption).order_by(KaDecryption.id))]
