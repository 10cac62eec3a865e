"""The catalog's tables: strategies, backtests, tasks, the outbox, the series indexes and signal logic."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.catalog.db.base import Base, Timestamps, UuidKey
from services.domain.expressions.rule_tree import OUTPUT_MODES, POSITION_MODES
from services.domain.statuses import RunStatus, TaskKind, TaskStatus, values

# The CHECK constraints take the domain's vocabularies; the migrations keep
# literal copies of what they created (tests/integration/catalog/test_migrations.py
# checks the two agree).
BACKTEST_STATUSES = values(RunStatus)
TASK_KINDS = values(TaskKind)
TASK_STATUSES = values(TaskStatus)

_EMPTY_OBJECT = text("'{}'::jsonb")
_EMPTY_ARRAY = text("'[]'::jsonb")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    """SQL of a CHECK that `column` holds one of `values`."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Strategy(UuidKey, Timestamps, Base):
    """A trading strategy that backtests attach to."""

    __tablename__ = "strategies"

    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    universe: Mapped[list[str]] = mapped_column(JSONB, server_default=_EMPTY_ARRAY)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=_EMPTY_OBJECT)


class Backtest(UuidKey, Timestamps, Base):
    """One backtest record; attempts, claimed_at and job_id belong to execution."""

    __tablename__ = "backtests"
    __table_args__ = (
        CheckConstraint(_one_of("status", BACKTEST_STATUSES), name="status"),
        # Newest first with the id as tiebreak: rows created in one
        # transaction (a sweep) share created_at.
        Index("ix_backtests_strategy_id_created_at", "strategy_id", text("created_at DESC"), text("id DESC")),
        Index("ix_backtests_created_at", text("created_at DESC"), text("id DESC")),
        Index("ix_backtests_sweep_id", "sweep_id"),
        # Deleting a signal logic asks whether any backtest names it in its config.
        Index(
            "ix_backtests_signal_logic_id",
            text("(config ->> 'signal_logic_id')"),
            postgresql_where=text("config ? 'signal_logic_id'"),
        ),
    )

    strategy_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("strategies.id", ondelete="RESTRICT"))
    engine: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default=RunStatus.PENDING.value)
    initial_capital: Mapped[float] = mapped_column(Float)
    commission: Mapped[float] = mapped_column(Float)
    slippage: Mapped[float] = mapped_column(Float)
    config: Mapped[dict[str, Any]] = mapped_column(JSONB)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=_EMPTY_OBJECT)
    trades_uri: Mapped[str | None] = mapped_column(Text)
    equity_curve_uri: Mapped[str | None] = mapped_column(Text)
    # The sweep task that created this run. No foreign key: tasks already
    # reference backtests, and a cycle between the two tables buys nothing.
    sweep_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # JetStream message id of the job currently running this backtest.
    job_id: Mapped[str | None] = mapped_column(Text)
    # {"sums": [...], "squares": [...]} of its per-bar excess returns in 16
    # blocks, as the executor reported them: its search's PBO reads these, not
    # the equity curve (services/domain/backtest_overfitting.py).
    return_blocks: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))


class Task(UuidKey, Timestamps, Base):
    """An asynchronous unit of work: one execution or one sweep."""

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(_one_of("kind", TASK_KINDS), name="kind"),
        CheckConstraint(_one_of("status", TASK_STATUSES), name="status"),
    )

    kind: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default=TaskStatus.PENDING.value)
    # Deleting a backtest keeps its task history; the link just goes.
    backtest_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("backtests.id", ondelete="SET NULL"), index=True
    )
    # Sweep request: base_config, param_grid, rank_metric, engine.
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=_EMPTY_OBJECT)
    total: Mapped[int] = mapped_column(Integer, server_default="0")
    succeeded: Mapped[int] = mapped_column(Integer, server_default="0")
    failed: Mapped[int] = mapped_column(Integer, server_default="0")
    # Runs a cancel revoked before they finished (CancelTask).
    revoked: Mapped[int] = mapped_column(Integer, server_default="0")
    # none_as_null: Python None is SQL NULL ("no result yet"), not JSON null.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    error: Mapped[str | None] = mapped_column(Text)


class OutboxMessage(Base):
    """A message to publish, written in the same transaction as the change it announces."""

    __tablename__ = "outbox"
    __table_args__ = (
        # The relay only ever scans what is still unpublished.
        Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    subject: Mapped[str] = mapped_column(Text)
    # Becomes the JetStream Nats-Msg-Id, so a re-publish after a crash is deduplicated.
    msg_id: Mapped[str] = mapped_column(Text, unique=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Where JetStream stored the job: the reaper asks the stream whether it is still there.
    stream_seq: Mapped[int | None] = mapped_column(BigInteger)


class Series(Base):
    """Index entry of one stored market-data series; the bars live in the object store."""

    __tablename__ = "series"

    symbol: Mapped[str] = mapped_column(Text, primary_key=True)
    timeframe: Mapped[str] = mapped_column(Text, primary_key=True)
    start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rows: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(Text)
    object_uri: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class SignalLogic(UuidKey, Timestamps, Base):
    """A rule-tree strategy at its current version; every version is kept in signal_logic_versions."""

    __tablename__ = "signal_logic"
    __table_args__ = (
        CheckConstraint(_one_of("output_mode", OUTPUT_MODES), name="output_mode"),
        CheckConstraint(_one_of("position_mode", POSITION_MODES), name="position_mode"),
        Index("ix_signal_logic_created_at", text("created_at DESC"), text("id DESC")),
    )

    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    rule_tree: Mapped[list[Any]] = mapped_column(JSONB)
    output_mode: Mapped[str] = mapped_column(Text)
    position_mode: Mapped[str] = mapped_column(Text)
    # A strategy's deletion leaves its logic in place, unattached.
    strategy_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("strategies.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class SignalLogicVersion(Base):
    """What a signal logic was at one version: what a run that used that version ran."""

    __tablename__ = "signal_logic_versions"

    logic_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("signal_logic.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_tree: Mapped[list[Any]] = mapped_column(JSONB)
    output_mode: Mapped[str] = mapped_column(Text)
    position_mode: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SignalSeries(Base):
    """Index entry of one stored model-output series; its values live in the object store."""

    __tablename__ = "signal_series"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    symbols: Mapped[list[str]] = mapped_column(JSONB)
    start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rows: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(Text)
    object_uri: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
