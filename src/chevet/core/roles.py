"""People's roles in an organisation and what each may do.

The permission table is the one place that says who may do what; application actions ask it
and never compare role names themselves.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    DPO = "dpo"
    DIRECTOR = "director"
    MANAGER = "manager"
    PHYSICIAN = "physician"
    NURSE = "nurse"
    CARE_ASSISTANT = "care_assistant"
    SOCIAL_WORKER = "social_worker"
    EXTERNAL = "external"


class Permission(StrEnum):
    MANAGE_PEOPLE = "manage_people"
    MANAGE_TEAMS = "manage_teams"
    MANAGE_ORGANISATION = "manage_organisation"
    VIEW_AUDIT = "view_audit"
    MANAGE_RETENTION = "manage_retention"
    CREATE_DIRECT = "create_direct"
    CREATE_GROUP = "create_group"
    CREATE_TEAM_CHANNEL = "create_team_channel"
    CREATE_CARE_CASE = "create_care_case"
    MANAGE_ANY_CONVERSATION = "manage_any_conversation"
    LIST_PEOPLE = "list_people"
    VIEW_SOBRIETY = "view_sobriety"


_CARE = {
    Permission.CREATE_DIRECT,
    Permission.CREATE_GROUP,
    Permission.CREATE_CARE_CASE,
    Permission.LIST_PEOPLE,
}

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.DPO: frozenset({Permission.VIEW_AUDIT, Permission.MANAGE_RETENTION, Permission.CREATE_DIRECT,
                         Permission.CREATE_GROUP, Permission.LIST_PEOPLE, Permission.VIEW_SOBRIETY}),
    # The establishment's director answers for it to the authorities: reads the traces, sets how long
    # data is kept and sees the sobriety figures; handles adverse-event reports (signalement).
    Role.DIRECTOR: frozenset(_CARE | {Permission.VIEW_AUDIT, Permission.MANAGE_RETENTION, Permission.VIEW_SOBRIETY,
                                      Permission.MANAGE_TEAMS, Permission.CREATE_TEAM_CHANNEL}),
    Role.MANAGER: frozenset(_CARE | {Permission.MANAGE_TEAMS, Permission.CREATE_TEAM_CHANNEL,
                                     Permission.VIEW_AUDIT, Permission.MANAGE_ANY_CONVERSATION}),
    Role.PHYSICIAN: frozenset(_CARE),
    Role.NURSE: frozenset(_CARE),
    Role.CARE_ASSISTANT: frozenset(_CARE),
    Role.SOCIAL_WORKER: frozenset(_CARE),
    Role.EXTERNAL: frozenset({Permission.CREATE_DIRECT}),
}


def can(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]


def parse_role(value: str) -> Role:
    from chevet.core.errors import InvalidInput

    try:
        return Role(value)
    except ValueError as exc:
        raise InvalidInput("unknown_role", allowed=", ".join(r.value for r in Role)) from exc
