"""Who may read the evidence table for auditors (``core.evidence``): the people who answer for
the organisation to an auditor or an evaluator — administrators, the DPO, the director — and
the quality leads who prepare the HAS evaluation. Reading it changes nothing, so no audit entry."""

from __future__ import annotations

from collections.abc import Collection

from chevet.app.services import Actor
from chevet.core import evidence
from chevet.core.errors import Forbidden
from chevet.core.roles import Role
from chevet.core.signalement.report import ReportFunction

READERS = frozenset({Role.ADMIN, Role.DPO, Role.DIRECTOR})


def may_read(actor: Actor, functions: Collection[str]) -> bool:
    return actor.person.role in READERS or ReportFunction.QUALITY_LEAD.value in functions


def table(actor: Actor, functions: Collection[str]) -> tuple[evidence.Obligation, ...]:
    """The rows of the evidence table, for those who may read it."""
    if not may_read(actor, functions):
        raise Forbidden()
    return evidence.OBLIGATIONS
