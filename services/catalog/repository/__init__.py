"""Async data access of the catalog, one module per table group.

Every function takes an open `AsyncSession` and leaves committing to the
caller, so several calls (a backtest, its task and an outbox message) can
share one transaction: `async with sessions.begin() as session: ...`.
"""
