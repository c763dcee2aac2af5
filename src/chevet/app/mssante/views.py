"""How MSSanté exchanges look from outside: an exchange, its messages with what MSSanté says
about each, and the quarantine."""

from __future__ import annotations

from typing import NotRequired

from typing_extensions import TypedDict

from chevet.app.messaging.views import ConversationMembersView, MessageView


class ExchangeView(ConversationMembersView):
    mailbox: str
    correspondents: list[str]


class MssDocument(TypedDict):
    id: str
    name: str
    content_type: str
    size: int


# What MSSanté says about a message. A live event carries a few members (sent: direction and
# state; received: direction, sender and signature); the exchange's page carries them all, and
# the receipt question when one waits for the reader's decision.
MssDelivery = TypedDict("MssDelivery", {
    "id": NotRequired[str],
    "direction": str,
    "state": NotRequired[str],
    "subject": NotRequired[str | None],
    "from": NotRequired[str | None],
    "to": NotRequired[list[str] | None],
    "attempts": NotRequired[int],
    "error": NotRequired[str | None],
    "signature": NotRequired[str | None],
    "signer": NotRequired[str | None],
    "signature_reason": NotRequired[str | None],
    "signer_emails": NotRequired[list[str]],
    "encrypted": NotRequired[bool],
    "receipt_requested": NotRequired[bool],
    "restrictions": NotRequired[list[str]],
    "disposition": NotRequired[str | None],
    "disposition_at": NotRequired[str | None],
    "sent_at": NotRequired[str | None],
    "attachments": NotRequired[list[MssDocument]],
    "receipt_question": NotRequired[bool],
    "receipt_to": NotRequired[str],
})


class MssMessageView(MessageView):
    mssante: MssDelivery


class PatientView(TypedDict):
    """The patient an exchange is about: strict traits, INS and RNIV status (members only)."""

    birth_name: str
    first_given_name: str
    birth_date: str
    sex: str
    status: str
    given_names: str
    used_name: str
    used_given_name: str
    birth_place: str
    ins: str
    ins_oid: str
    doubtful: bool
    fictitious: bool
    qualified: bool


class ExchangeMessagesView(TypedDict):
    conversation_id: str
    mailbox: str
    correspondents: list[str]
    messages: list[MssMessageView]
    to_patient: NotRequired[bool]
    patient: NotRequired[PatientView]


class QuarantinedView(TypedDict):
    id: str
    mailbox: str
    state: str
    reason: str | None
    received_at: str
    size: int
