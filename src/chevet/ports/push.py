"""Web Push: subscriptions, budgets and the push services."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from chevet.core.notification import PushBudget, PushSubscription


class PushRepository(Protocol):
    async def add(self, sub: PushSubscription) -> None:
        """Store a subscription; an endpoint registered again replaces its previous owner."""
        ...
    async def for_person(self, org_id: uuid.UUID, person_id: uuid.UUID) -> list[PushSubscription]: ...
    async def for_people(self, org_id: uuid.UUID, person_ids: Sequence[uuid.UUID]) -> list[PushSubscription]: ...
    async def remove(self, org_id: uuid.UUID, person_id: uuid.UUID, endpoint: str) -> bool: ...
    async def remove_gone(self, subscription_id: uuid.UUID) -> None: ...
    async def budget(self, person_id: uuid.UUID) -> PushBudget | None: ...
    async def save_budget(self, budget: PushBudget) -> None: ...


class PushGateway(Protocol):
    """Sends an encrypted Web Push message to the push service a browser registered."""

    @property
    def public_key(self) -> str:
        """The installation's VAPID public key (base64url), given to browsers when subscribing."""
        ...

    async def send(self, subscription: PushSubscription, payload: bytes, *, ttl: int, urgent: bool) -> int:
        """The push service's HTTP status (0 when unreachable)."""
        ...
