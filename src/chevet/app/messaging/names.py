"""What people call a conversation: its title and care-case reference, both sealed with the
conversation's own key. The governance pages search and name conversations by them; they are
opened here, in memory, never compared in SQL and never logged."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chevet.app.messaging.views import ref_of, title_of
from chevet.app.services import Services
from chevet.core.entities import Conversation
from chevet.ports import Transaction


@dataclass(frozen=True, slots=True)
class ConversationName:
    conversation: Conversation
    title: str
    care_case_ref: str | None

    @property
    def shown(self) -> str:
        """« Suivi Mme Durand (R-0012) »: the title, with the reference when the title lacks it."""
        ref = self.care_case_ref
        if not ref or ref in self.title:
            return self.title or ref or ""
        return f"{self.title} ({ref})" if self.title else ref


async def names_of(services: Services, tx: Transaction,
                   conversations: Iterable[Conversation]) -> list[ConversationName]:
    """The names of these conversations; one whose key is gone (shredded) has none and is left out."""
    out = []
    for conv in conversations:
        wrapped = await tx.conversations.wrapped_key(conv.id)
        if wrapped is None:
            continue
        key = await services.unwrap_key(conv.org_id, conv.id, wrapped)
        out.append(ConversationName(conv, title_of(conv, key), ref_of(conv, key)))
    return out
