"""What an IntegrityError from PostgreSQL means, by SQLSTATE rather than by message text."""

from __future__ import annotations

from psycopg import errors as pg_errors
from sqlalchemy.exc import IntegrityError


def is_foreign_key_violation(err: IntegrityError) -> bool:
    """True when the statement broke a foreign key (a referenced row vanished or a referencing row appeared)."""
    # ON DELETE RESTRICT reports restrict_violation (23001), other checks foreign_key_violation (23503).
    return isinstance(err.orig, (pg_errors.ForeignKeyViolation, pg_errors.RestrictViolation))


def is_unique_violation(err: IntegrityError) -> bool:
    """True when the statement inserted a duplicate of a unique key."""
    return isinstance(err.orig, pg_errors.UniqueViolation)
