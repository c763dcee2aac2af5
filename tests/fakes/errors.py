"""What the fakes raise where the real adapters would."""

from __future__ import annotations


class ConstraintViolation(Exception):
    """A row breaks a uniqueness rule of the real schema (the database would refuse it)."""


def not_faked(what: str) -> NotImplementedError:
    return NotImplementedError(f"{what} is not faked: test that path against the real database (tests/integration)")
