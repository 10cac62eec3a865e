"""Concurrent executes' claims gathered into one statement (services.catalog.execution.claim_group), without servers.

`claim_plain` is replaced by a stand-in that records each statement's runs and
holds it until the test lets it finish, so what gathers while a statement is in
flight is seen exactly.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import asynccontextmanager

import psycopg
import pytest
from sqlalchemy import exc as sa_exc

from services.catalog.execution import claim_group
from services.catalog.execution.claim_group import ClaimGroup


class _Engine:
    """Stands in for the autocommit engine: connect() yields a token connection."""

    @asynccontextmanager
    async def connect(self):
        yield object()


class _Statements:
    """Stands in for dispatch.claim_plain: records each statement's runs; claims those in `claimable`."""

    def __init__(self, claimable: set[uuid.UUID], error: Exception | None = None) -> None:
        self.claimable = claimable
        self.error = error
        self.groups: list[list[uuid.UUID]] = []
        self.release = asyncio.Event()

    async def __call__(self, connection, topology, backtest_ids):
        self.groups.append(list(backtest_ids))
        await self.release.wait()
        if self.error is not None:
            raise self.error
        return {b: (uuid.uuid4(), f"job of {b}") for b in backtest_ids if b in self.claimable}


def _group(monkeypatch, statements: _Statements) -> ClaimGroup:
    monkeypatch.setattr(claim_group, "claim_plain", statements)
    return ClaimGroup(_Engine(), topology=None)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def _claims_behind(group: ClaimGroup, first: uuid.UUID, later: list[uuid.UUID]):
    """Claims `first`, then, once its statement is in flight, each of `later`: (first's task, the later tasks)."""
    held = asyncio.create_task(group.claim(first))
    await _settle()
    waiting = [asyncio.create_task(group.claim(b)) for b in later]
    await _settle()
    return held, waiting


def test_claims_arriving_while_one_is_in_flight_go_together_in_the_next_statement(monkeypatch):
    async def run():
        ids = [uuid.uuid4() for _ in range(5)]
        statements = _Statements(claimable=set(ids))
        group = _group(monkeypatch, statements)
        first, rest = await _claims_behind(group, ids[0], ids[1:])  # the first statement holds the first run alone
        assert statements.groups == [[ids[0]]]
        statements.release.set()
        answers = await asyncio.gather(first, *rest)
        return ids, statements.groups, answers

    ids, groups, answers = asyncio.run(run())
    assert groups == [[ids[0]], ids[1:]]  # one statement for the four that waited, not four
    assert [job for _, job in answers] == [f"job of {b}" for b in ids]  # each execute gets its own claim
    assert len({task for task, _ in answers}) == 5


def test_two_executes_of_one_run_never_share_a_statement(monkeypatch):
    async def run():
        a, b = uuid.uuid4(), uuid.uuid4()
        statements = _Statements(claimable={a, b})
        group = _group(monkeypatch, statements)
        blocker, waiting = await _claims_behind(group, b, [a, a, b])
        statements.release.set()
        await asyncio.gather(blocker, *waiting)
        return a, b, statements.groups

    a, b, groups = asyncio.run(run())
    assert groups == [[b], [a, b], [a]]  # the repeat of `a` waits for a statement of its own
    assert all(len(set(g)) == len(g) for g in groups)


def test_a_run_the_statement_did_not_claim_is_left_to_the_caller(monkeypatch):
    async def run():
        claimable, other = uuid.uuid4(), uuid.uuid4()
        statements = _Statements(claimable={claimable})
        statements.release.set()
        group = _group(monkeypatch, statements)
        return await asyncio.gather(group.claim(claimable), group.claim(other))

    claimed, left = asyncio.run(run())
    assert claimed is not None and left is None  # missing, running or to bind: the caller's transaction decides


def _deadlock() -> Exception:
    return sa_exc.OperationalError("UPDATE backtests ...", {}, psycopg.errors.DeadlockDetected("deadlock detected"))


def test_a_deadlocked_statement_leaves_each_claim_to_its_caller(monkeypatch):
    async def run():
        statements = _Statements(claimable=set(), error=_deadlock())
        statements.release.set()
        group = _group(monkeypatch, statements)
        return await asyncio.gather(group.claim(uuid.uuid4()), group.claim(uuid.uuid4()))

    assert asyncio.run(run()) == [None, None]


def test_a_database_outage_fails_every_claim_of_the_statement(monkeypatch):
    async def run():
        outage = sa_exc.OperationalError("UPDATE backtests ...", {}, psycopg.OperationalError("connection refused"))
        statements = _Statements(claimable=set(), error=outage)
        statements.release.set()
        group = _group(monkeypatch, statements)
        return await asyncio.gather(group.claim(uuid.uuid4()), group.claim(uuid.uuid4()), return_exceptions=True)

    answers = asyncio.run(run())
    assert all(isinstance(answer, sa_exc.OperationalError) for answer in answers)


def test_a_cancelled_execute_does_not_cancel_the_statement_others_wait_on(monkeypatch):
    async def run():
        a, b = uuid.uuid4(), uuid.uuid4()
        statements = _Statements(claimable={a, b})
        group = _group(monkeypatch, statements)
        first, (second,) = await _claims_behind(group, a, [b])
        first.cancel()
        await _settle()
        statements.release.set()
        with pytest.raises(asyncio.CancelledError):
            await first
        return b, await second, statements.groups

    b, answer, groups = asyncio.run(run())
    assert answer is not None and answer[1] == f"job of {b}"
    assert groups[1] == [b]
