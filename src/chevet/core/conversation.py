"""Conversations: kinds, their rules, and the care-case reference.

A care case is a conversation about one resident or patient. Inside the organisation it is
known by a pseudonymous reference chosen by the team (room, initials, a local file number);
a national identifier (NIR/INS matricule) is refused so that it never travels in clear.
"""

from __future__ import annotations

import re
from enum import StrEnum

from chevet.core.errors import InvalidInput
from chevet.core.roles import Permission


class ConversationKind(StrEnum):
    DIRECT = "direct"
    GROUP = "group"
    TEAM = "team"
    CARE_CASE = "care_case"
    EXTERNAL = "external"   # an exchange with MSSanté correspondents outside the organisation


CREATE_PERMISSION = {
    ConversationKind.DIRECT: Permission.CREATE_DIRECT,
    ConversationKind.GROUP: Permission.CREATE_GROUP,
    ConversationKind.TEAM: Permission.CREATE_TEAM_CHANNEL,
    ConversationKind.CARE_CASE: Permission.CREATE_CARE_CASE,
    ConversationKind.EXTERNAL: Permission.CREATE_CARE_CASE,
}

MAX_TITLE = 120
MAX_REF = 64
MAX_MEMBERS = 1000

# 13 digits + 2-digit key, with optional spaces: the shape of a NIR / INS matricule.
_NIR = re.compile(r"(?<!\d)[12378]\s?\d{2}\s?\d{2}\s?(\d{2}|2[AB])\s?\d{3}\s?\d{3}(\s?\d{2})?(?!\d)", re.I)


def parse_kind(value: str) -> ConversationKind:
    try:
        return ConversationKind(value)
    except ValueError as exc:
        raise InvalidInput("unknown_kind", allowed=", ".join(k.value for k in ConversationKind)) from exc


def looks_like_national_id(text: str) -> bool:
    return bool(_NIR.search(text))


def clean_title(title: str | None, kind: ConversationKind) -> str:
    value = " ".join((title or "").split())
    if len(value) > MAX_TITLE:
        raise InvalidInput("title_too_long", max=MAX_TITLE)
    if not value and kind in (ConversationKind.GROUP, ConversationKind.TEAM):
        raise InvalidInput("title_required")
    if looks_like_national_id(value):
        raise InvalidInput("national_id_refused")
    return value


def clean_care_case_ref(kind: ConversationKind, ref: str | None) -> str | None:
    if kind is not ConversationKind.CARE_CASE:
        if ref:
            raise InvalidInput("care_case_ref_only_for_care_case")
        return None
    value = " ".join((ref or "").split())
    if not value:
        raise InvalidInput("care_case_ref_required")
    if len(value) > MAX_REF:
        raise InvalidInput("care_case_ref_too_long", max=MAX_REF)
    if looks_like_national_id(value):
        raise InvalidInput("national_id_refused")
    return value
