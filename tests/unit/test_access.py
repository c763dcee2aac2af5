"""app.access.require: the one permission check of the actions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from chevet.app.access import require
from chevet.app.services import Actor
from chevet.core.entities import Organisation, Person, PersonStatus
from chevet.core.errors import Forbidden
from chevet.core.roles import PERMISSIONS, Permission, Role

_AT = datetime(2026, 1, 1, tzinfo=UTC)


def _actor(role: Role) -> Actor:
    org = Organisation(uuid.uuid4(), "ehpad", "EHPAD", _AT)
    person = Person(uuid.uuid4(), org.id, "a@example.test", "A", role, PersonStatus.ACTIVE, None, "fr", _AT)
    return Actor(person, org, None)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(Permission))
def test_require_follows_the_role_table(role: Role, permission: Permission) -> None:
    if permission in PERMISSIONS[role]:
        require(_actor(role), permission)
    else:
        with pytest.raises(Forbidden) as refused:
            require(_actor(role), permission)
        assert refused.value.code == "forbidden"


def test_the_installation_itself_may_do_anything() -> None:
    for permission in Permission:
        require(None, permission)
