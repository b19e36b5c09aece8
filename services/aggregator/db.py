"""Aggregator storage (SQLAlchemy 2): SQLite in the data directory by default, PostgreSQL
via ``ZKFLPQ_DATABASE_URL``; several aggregator processes may share one PostgreSQL.

Invariants enforced by the database (not by process-local state):

- ``accepted_updates`` has ``UNIQUE(round_id, client_id)``: two processes verifying two
  updates of one client concurrently cannot both accept (the loser answers 409).
- ``submissions.idem_key`` is unique: the first process to claim an update owns its
  verification; an identical resubmission (to any process) waits for that verdict.
- ``nonces`` has primary key ``(client_id, nonce)``: a signed request is used once.
- ``rounds.open_slot`` is unique (1 while open, NULL otherwise): one open round at a time.
- Accepting increments ``rounds.n_accepted`` with ``WHERE state = 'open'`` in the same
  transaction as the insert, so an update is never acknowledged into a round that has
  started closing.

An update is acknowledged (202) only after its transaction committed; SQLite runs in WAL
mode with ``synchronous=FULL``.

Schema changes are additive only: :meth:`Store.create_all` creates missing tables and adds
the nullable columns of :data:`ADDED_COLUMNS` to a database made by an earlier version
(``create_all`` alone never alters an existing table).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

__all__ = ["ADDED_COLUMNS", "Base", "ClaimResult", "Store", "make_engine"]


class Base(DeclarativeBase):
    pass


class ClientRow(Base):
    __tablename__ = "clients"
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    verify_key: Mapped[bytes] = mapped_column(LargeBinary)
    fingerprint: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200), default="")
    enrolled_at: Mapped[float] = mapped_column(Float)


class RoundRow(Base):
    __tablename__ = "rounds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    state: Mapped[str] = mapped_column(String(16))  # open → closing → closed | failed
    open_slot: Mapped[int | None] = mapped_column(Integer, unique=True, nullable=True)
    params_name: Mapped[str] = mapped_column(String(64))
    tau: Mapped[float] = mapped_column(Float)
    scale: Mapped[float] = mapped_column(Float)
    bound: Mapped[int] = mapped_column(BigInteger)
    d: Mapped[int] = mapped_column(Integer)
    k: Mapped[int] = mapped_column(Integer)
    layout: Mapped[str] = mapped_column(Text, default="")
    k_min: Mapped[int] = mapped_column(Integer)
    deadline: Mapped[float | None] = mapped_column(Float, nullable=True)
    opened_at: Mapped[float] = mapped_column(Float)
    closed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    model: Mapped[bytes] = mapped_column(LargeBinary)
    model_digest: Mapped[str] = mapped_column(String(64))
    result_model: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    result_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    n_accepted: Mapped[int] = mapped_column(Integer, default=0)
    failure: Mapped[str | None] = mapped_column(Text, nullable=True)
    close_info: Mapped[str | None] = mapped_column(Text, nullable=True)
    # How an adaptive τ (``tau: "auto"``) was derived: JSON {rule, observations, tau};
    # NULL for a τ given as a number.
    tau_source: Mapped[str | None] = mapped_column(Text, nullable=True)


# Columns added after the first release, by table: nullable, so that adding them to an
# existing table (ALTER TABLE … ADD COLUMN) needs no default and no rewrite of old rows.
ADDED_COLUMNS: dict[str, tuple[str, ...]] = {"rounds": ("tau_source",)}


class SubmissionRow(Base):
    """Audit row of every update verdict (never the payload)."""

    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idem_key: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    digest: Mapped[str] = mapped_column(String(64))
    round_id: Mapped[int] = mapped_column(Integer, index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # pending | accepted | rejected
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    http_status: Mapped[int] = mapped_column(Integer, default=0)
    ct_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    proof_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    verify_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    total_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    instance_id: Mapped[str] = mapped_column(String(128))


class AcceptedRow(Base):
    __tablename__ = "accepted_updates"
    __table_args__ = (UniqueConstraint("round_id", "client_id", name="uq_round_client"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[int] = mapped_column(Integer, index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    idem_key: Mapped[str] = mapped_column(String(64))
    ciphertexts: Mapped[bytes] = mapped_column(LargeBinary)
    proof_hash: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    nonce: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    accepted_at: Mapped[float] = mapped_column(Float)


class NonceRow(Base):
    __tablename__ = "nonces"
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    idem_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    seen_at: Mapped[float] = mapped_column(Float, index=True)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


@dataclass(frozen=True)
class RoundInfo:
    id: int
    state: str
    params_name: str
    tau: float
    scale: float
    bound: int
    d: int
    k: int
    layout: str
    k_min: int
    deadline: float | None
    opened_at: float
    closed_at: float | None
    model_digest: str
    result_digest: str | None
    n_accepted: int
    failure: str | None
    close_info: dict[str, Any] | None
    tau_source: dict[str, Any] | None = None  # adaptive τ: {rule, observations, tau}

    @classmethod
    def of(cls, r: RoundRow) -> RoundInfo:
        return cls(r.id, r.state, r.params_name, r.tau, r.scale, int(r.bound), r.d, r.k,
                   r.layout, r.k_min, r.deadline, r.opened_at, r.closed_at, r.model_digest,
                   r.result_digest, r.n_accepted, r.failure,
                   json.loads(r.close_info, parse_constant=lambda _: None)
                   if r.close_info else None,
                   json.loads(r.tau_source, parse_constant=lambda _: None)
                   if r.tau_source else None)

    def public(self) -> dict[str, Any]:
        """JSON-safe: a non-finite stored float (rows written before the API refused
        them) reads as null rather than failing the response."""
        # An open round past its deadline still closes normally but takes no updates:
        # say so, rather than "open", to operators and to clients about to train.
        accepting = self.state == "open" and (self.deadline is None
                                              or time.time() <= self.deadline)
        state = "deadline_passed" if self.state == "open" and not accepting else self.state
        return {"round_id": self.id, "state": state, "accepting_updates": accepting,
                "params": self.params_name,
                "tau": _finite(self.tau), "scale": _finite(self.scale), "bound": self.bound,
                "d": self.d, "k": self.k, "k_min": self.k_min,
                "deadline": _finite(self.deadline), "opened_at": _finite(self.opened_at),
                "closed_at": _finite(self.closed_at),
                "model_digest": self.model_digest, "result_digest": self.result_digest,
                "layout": self.layout,
                # How τ was derived when the round was opened with tau "auto" (null for a
                # number): clients, operators and auditors can recompute it.
                "tau_auto": self.tau_source}


def _finite(x: float | None) -> float | None:
    return x if x is None or math.isfinite(x) else None


@dataclass(frozen=True)
class ClaimResult:
    outcome: str  # "claimed" | "exists" | "replay"
    existing: dict[str, Any] | None = None


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)

    def create_all(self) -> None:
        Base.metadata.create_all(self.engine)
        self.add_missing_columns()

    def add_missing_columns(self) -> list[str]:
        """Add the :data:`ADDED_COLUMNS` an older database lacks; returns "table.column"
        for each one added. Safe when several processes start at once on one database:
        losing the race to add a column is fine as long as the column then exists."""
        added: list[str] = []
        for table_name, column_names in ADDED_COLUMNS.items():
            table = Base.metadata.tables[table_name]
            for name in column_names:
                if name in self._column_names(table_name):
                    continue
                column = table.c[name]
                ddl = (f"ALTER TABLE {table.name} ADD COLUMN {column.name} "
                       f"{column.type.compile(dialect=self.engine.dialect)}")
                try:
                    with self.engine.begin() as conn:
                        conn.execute(text(ddl))
                except DBAPIError:
                    if name not in self._column_names(table_name):
                        raise
                else:
                    added.append(f"{table_name}.{name}")
        return added

    def _column_names(self, table_name: str) -> set[str]:
        return {c["name"] for c in inspect(self.engine).get_columns(table_name)}

    def dispose(self) -> None:
        self.engine.dispose()

    # -- clients -------------------------------------------------------------------------
    def enrol_client(self, client_id: str, verify_key: bytes, fingerprint: str,
                     label: str) -> bool:
        """Returns True if newly enrolled, False if already enrolled with the same key;
        raises ValueError if the id is taken by another key."""
        with self.Session() as s:
            row = s.get(ClientRow, client_id)
            if row is not None:
                if row.verify_key != verify_key:
                    raise ValueError("client id already enrolled with another key")
                return False
            s.add(ClientRow(client_id=client_id, verify_key=verify_key, fingerprint=fingerprint,
                            label=label, enrolled_at=time.time()))
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                return False
            return True

    def client_key(self, client_id: str) -> bytes | None:
        with self.Session() as s:
            row = s.get(ClientRow, client_id)
            return None if row is None else row.verify_key

    def list_clients(self) -> list[dict[str, Any]]:
        with self.Session() as s:
            return [{"client_id": r.client_id, "fingerprint": r.fingerprint, "label": r.label,
                     "enrolled_at": r.enrolled_at}
                    for r in s.scalars(select(ClientRow).order_by(ClientRow.enrolled_at))]

    # -- rounds --------------------------------------------------------------------------
    def open_round(self, *, params_name: str, tau: float, scale: float, bound: int, d: int,
                   k: int, layout: str, k_min: int, deadline: float | None, model: bytes,
                   model_digest: str, tau_source: dict[str, Any] | None = None) -> RoundInfo:
        """Raises ValueError('round_open') if a round is already open. Ids are allocated
        as max + 1 (no gaps, unlike a PostgreSQL sequence after a failed insert)."""
        for _ in range(20):
            with self.Session() as s:
                next_id = int(s.scalar(select(func.coalesce(func.max(RoundRow.id), 0))) or 0) + 1
                row = RoundRow(id=next_id, state="open", open_slot=1, params_name=params_name,
                               tau=tau, scale=scale, bound=bound, d=d, k=k, layout=layout,
                               k_min=k_min, deadline=deadline, opened_at=time.time(),
                               model=model, model_digest=model_digest, n_accepted=0,
                               tau_source=json.dumps(tau_source)
                               if tau_source is not None else None)
                s.add(row)
                try:
                    s.commit()
                except IntegrityError:
                    s.rollback()
                    if self.current_round() is not None:
                        raise ValueError("round_open") from None
                    continue  # lost an id race with another process: try the next id
                return RoundInfo.of(row)
        raise ValueError("round_open")

    def get_round(self, round_id: int) -> RoundInfo | None:
        with self.Session() as s:
            row = s.get(RoundRow, round_id)
            return None if row is None else RoundInfo.of(row)

    def current_round(self) -> RoundInfo | None:
        with self.Session() as s:
            row = s.scalars(select(RoundRow).where(RoundRow.open_slot == 1)).first()
            return None if row is None else RoundInfo.of(row)

    def latest_round(self) -> RoundInfo | None:
        with self.Session() as s:
            row = s.scalars(select(RoundRow).order_by(RoundRow.id.desc())).first()
            return None if row is None else RoundInfo.of(row)

    def round_model(self, round_id: int, stage: str = "start") -> bytes | None:
        with self.Session() as s:
            row = s.get(RoundRow, round_id)
            if row is None:
                return None
            return row.model if stage == "start" else row.result_model

    def closed_rounds_of_size(self, d: int, limit: int) -> list[tuple[int, int]]:
        """(round id, updates summed) of the last ``limit`` closed rounds with a published
        model of ``d`` parameters, oldest first. The count is the round's ``n_summed``
        (its accepted updates less any the key authority refused at the close), i.e. the
        K of the mean the round published; rounds closed before ``n_summed`` was
        recorded fall back to their accepted count."""
        with self.Session() as s:
            rows = s.execute(
                select(RoundRow.id, RoundRow.n_accepted, RoundRow.close_info)
                .where(RoundRow.state == "closed", RoundRow.result_model.is_not(None),
                       RoundRow.d == d)
                .order_by(RoundRow.id.desc()).limit(limit)).all()
        out = []
        for round_id, n_accepted, close_info in reversed(rows):
            info = json.loads(close_info, parse_constant=lambda _: None) if close_info else {}
            summed = info.get("n_summed") if isinstance(info, dict) else None
            out.append((int(round_id), int(summed) if isinstance(summed, int)
                        and not isinstance(summed, bool) else int(n_accepted)))
        return out

    def latest_model(self) -> tuple[bytes, str, int] | None:
        """(vector, layout, d) that the next round should start from."""
        with self.Session() as s:
            row = s.scalars(select(RoundRow).order_by(RoundRow.id.desc())).first()
            if row is None:
                return None
            if row.state == "closed" and row.result_model is not None:
                return row.result_model, row.layout, row.d
            return row.model, row.layout, row.d

    def begin_close(self, round_id: int) -> RoundInfo | None:
        """open → closing (idempotent for closing). Returns the round or None if missing."""
        with self.Session() as s:
            s.execute(update(RoundRow).where(RoundRow.id == round_id, RoundRow.state == "open")
                      .values(state="closing"))
            s.commit()
            row = s.get(RoundRow, round_id)
            return None if row is None else RoundInfo.of(row)

    def finish_round(self, round_id: int, *, state: str, result_model: bytes | None = None,
                     result_digest: str | None = None, failure: str | None = None,
                     close_info: dict[str, Any] | None = None) -> RoundInfo:
        with self.Session() as s:
            row = s.get(RoundRow, round_id)
            assert row is not None
            row.state = state
            row.open_slot = None
            row.closed_at = time.time()
            row.result_model = result_model
            row.result_digest = result_digest
            row.failure = failure
            row.close_info = json.dumps(close_info) if close_info is not None else None
            s.commit()
            return RoundInfo.of(row)

    def round_counts(self, round_id: int) -> dict[str, Any]:
        with self.Session() as s:
            rows = s.execute(
                select(SubmissionRow.status, SubmissionRow.reason, func.count())
                .where(SubmissionRow.round_id == round_id)
                .group_by(SubmissionRow.status, SubmissionRow.reason)).all()
        accepted = 0
        pending = 0
        rejected: dict[str, int] = {}
        for status, reason, n in rows:
            if status == "accepted":
                accepted += n
            elif status == "pending":
                pending += n
            else:
                rejected[reason or "unknown"] = rejected.get(reason or "unknown", 0) + n
        return {"accepted": accepted, "pending": pending, "rejected": rejected}

    def round_rejections(self, round_id: int) -> list[dict[str, Any]]:
        with self.Session() as s:
            return [{"client_id": r.client_id, "reason": r.reason, "detail": r.detail,
                     "http_status": r.http_status}
                    for r in s.scalars(select(SubmissionRow).where(
                        SubmissionRow.round_id == round_id,
                        SubmissionRow.status == "rejected").order_by(SubmissionRow.id))]

    def pending_count(self, round_id: int) -> int:
        with self.Session() as s:
            return int(s.scalar(select(func.count()).select_from(SubmissionRow).where(
                SubmissionRow.round_id == round_id, SubmissionRow.status == "pending")) or 0)

    def iter_accepted(self, round_id: int) -> Iterator[AcceptedRow]:
        """Accepted updates of a round, one at a time (ids first, then each row)."""
        with self.Session() as s:
            ids = list(s.scalars(select(AcceptedRow.id).where(AcceptedRow.round_id == round_id)
                                 .order_by(AcceptedRow.client_id)))
        for i in ids:
            with self.Session() as s:
                row = s.get(AcceptedRow, i)
                if row is not None:
                    s.expunge(row)
                    yield row

    # -- submissions ---------------------------------------------------------------------
    @staticmethod
    def _verdict(row: SubmissionRow) -> dict[str, Any]:
        return {"status": row.status, "reason": row.reason, "detail": row.detail,
                "http_status": row.http_status, "round_id": row.round_id,
                "client_id": row.client_id, "submission": row.idem_key,
                "created_at": row.created_at, "finished_at": row.finished_at,
                "claimed_at": row.created_at, "instance_id": row.instance_id}

    def get_submission(self, idem_key: str) -> dict[str, Any] | None:
        with self.Session() as s:
            row = s.scalars(select(SubmissionRow).where(SubmissionRow.idem_key == idem_key)
                            ).first()
            return None if row is None else self._verdict(row)

    def accepted_exists(self, round_id: int, client_id: str) -> bool:
        with self.Session() as s:
            return s.scalars(select(AcceptedRow.id).where(
                AcceptedRow.round_id == round_id, AcceptedRow.client_id == client_id)
            ).first() is not None

    def verified_rejections(self, round_id: int, client_id: str) -> int:
        """Submissions of this client in this round that the verifier rejected (proof
        verification ran: verify_ms is set) — what bounds a client's verification cost."""
        with self.Session() as s:
            return int(s.scalar(select(func.count()).select_from(SubmissionRow).where(
                SubmissionRow.round_id == round_id, SubmissionRow.client_id == client_id,
                SubmissionRow.status == "rejected", SubmissionRow.verify_ms.is_not(None)))
                or 0)

    def claim(self, *, idem_key: str, digest: str, round_id: int, client_id: str, nonce: str,
              ct_bytes: int, proof_bytes: int, instance_id: str) -> ClaimResult:
        """Insert the pending submission row and the nonce in one transaction."""
        now = time.time()
        with self.Session() as s:
            existing_nonce = s.get(NonceRow, (client_id, nonce))
            if existing_nonce is not None and existing_nonce.idem_key != idem_key:
                return ClaimResult("replay")
            if existing_nonce is None:
                s.add(NonceRow(client_id=client_id, nonce=nonce, idem_key=idem_key,
                               seen_at=now))
            s.add(SubmissionRow(idem_key=idem_key, digest=digest, round_id=round_id,
                                client_id=client_id, status="pending", http_status=0,
                                ct_bytes=ct_bytes, proof_bytes=proof_bytes, created_at=now,
                                instance_id=instance_id))
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
            else:
                return ClaimResult("claimed")
        existing = self.get_submission(idem_key)
        if existing is not None:
            return ClaimResult("exists", existing)
        # Lost a race on the nonce with a different update of the same nonce.
        return ClaimResult("replay")

    def takeover(self, idem_key: str, older_than: float, instance_id: str) -> bool:
        """Re-own an abandoned pending row (its process died). True if taken over."""
        with self.Session() as s:
            res = s.execute(update(SubmissionRow).where(
                SubmissionRow.idem_key == idem_key, SubmissionRow.status == "pending",
                SubmissionRow.created_at < older_than).values(
                    created_at=time.time(), instance_id=instance_id))
            s.commit()
            return bool(getattr(res, "rowcount", 0))

    def release_claim(self, idem_key: str) -> None:
        """Forget a pending claim whose verification never ran (e.g. shutdown)."""
        with self.Session() as s:
            s.execute(delete(SubmissionRow).where(SubmissionRow.idem_key == idem_key,
                                                  SubmissionRow.status == "pending"))
            s.commit()

    def cleanup_instance(self, instance_id: str) -> int:
        """At start-up: this instance's pending rows were never acknowledged; drop them."""
        with self.Session() as s:
            res = s.execute(delete(SubmissionRow).where(SubmissionRow.instance_id == instance_id,
                                                        SubmissionRow.status == "pending"))
            s.commit()
            return int(getattr(res, "rowcount", 0) or 0)

    def reject(self, idem_key: str, *, reason: str, detail: str | None, http_status: int,
               verify_ms: float | None, total_ms: float | None) -> dict[str, Any]:
        with self.Session() as s:
            row = s.scalars(select(SubmissionRow).where(SubmissionRow.idem_key == idem_key)
                            ).one()
            row.status = "rejected"
            row.reason = reason
            row.detail = detail
            row.http_status = http_status
            row.verify_ms = verify_ms
            row.total_ms = total_ms
            row.finished_at = time.time()
            s.commit()
            return self._verdict(row)

    def accept(self, idem_key: str, *, round_id: int, client_id: str, ciphertexts: bytes,
               proof_hash: str, timestamp: int, nonce: str, signature: bytes,
               verify_ms: float | None, total_ms: float | None) -> dict[str, Any]:
        """Store an accepted update durably. Turns into a 409 'duplicate' rejection if the
        client already has an accepted update, or a 'round_closed' one if the round left
        the open state meanwhile."""
        now = time.time()
        with self.Session() as s:
            res = s.execute(update(RoundRow).where(RoundRow.id == round_id,
                                                   RoundRow.state == "open")
                            .values(n_accepted=RoundRow.n_accepted + 1))
            if not getattr(res, "rowcount", 0):
                s.rollback()
                return self.reject(idem_key, reason="round_closed",
                                   detail="the round stopped accepting updates",
                                   http_status=422, verify_ms=verify_ms, total_ms=total_ms)
            row = s.scalars(select(SubmissionRow).where(SubmissionRow.idem_key == idem_key)
                            ).one()
            s.add(AcceptedRow(round_id=round_id, client_id=client_id, idem_key=idem_key,
                              ciphertexts=ciphertexts, proof_hash=proof_hash,
                              timestamp=timestamp, nonce=nonce, signature=signature,
                              accepted_at=now))
            row.status = "accepted"
            row.http_status = 202
            row.verify_ms = verify_ms
            row.total_ms = total_ms
            row.finished_at = now
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                return self.reject(idem_key, reason="duplicate",
                                   detail="this client already has an accepted update in "
                                          "this round", http_status=409,
                                   verify_ms=verify_ms, total_ms=total_ms)
            return self._verdict(row)

    def audit_rejection(self, *, digest: str, round_id: int, client_id: str, reason: str,
                        detail: str | None, http_status: int, ct_bytes: int, proof_bytes: int,
                        instance_id: str) -> None:
        """A rejection that is not a property of the update's content (stale timestamp,
        replay, bad signature, closed round, …): audit row without an idempotency key."""
        now = time.time()
        with self.Session() as s:
            s.add(SubmissionRow(idem_key=None, digest=digest, round_id=round_id,
                                client_id=client_id, status="rejected", reason=reason,
                                detail=detail, http_status=http_status, ct_bytes=ct_bytes,
                                proof_bytes=proof_bytes, created_at=now, finished_at=now,
                                instance_id=instance_id))
            s.commit()

    # -- nonces ----------------------------------------------------------------------------
    def use_nonce(self, client_id: str, nonce: str) -> bool:
        """Record a nonce of a non-update request; False if it was seen before."""
        with self.Session() as s:
            s.add(NonceRow(client_id=client_id, nonce=nonce, idem_key=None, seen_at=time.time()))
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                return False
            return True

    def prune_nonces(self, older_than: float) -> int:
        with self.Session() as s:
            res = s.execute(delete(NonceRow).where(NonceRow.seen_at < older_than))
            s.commit()
            return int(getattr(res, "rowcount", 0) or 0)
