"""Request bodies. Strict types: a number where text is expected is refused, not coerced."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Body):
    email: StrictStr = Field(max_length=254)
    password: StrictStr = Field(max_length=256)
    otp: StrictStr = Field(max_length=32)  # a TOTP code, or a recovery code (XXXX-XXXX-XXXX-XXXX)


class ConversationIn(Body):
    kind: StrictStr = Field(max_length=20)
    title: StrictStr | None = Field(None, max_length=500)
    member_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)
    care_case_ref: StrictStr | None = Field(None, max_length=200)
    team_id: uuid.UUID | None = None


class MessageIn(Body):
    body: StrictStr
    client_id: StrictStr = Field(max_length=64)
    urgent: StrictBool = False
    reply_to: uuid.UUID | None = None
    attachment_ids: list[uuid.UUID] = Field(default_factory=list, max_length=10)


class EditIn(Body):
    body: StrictStr


class ReadIn(Body):
    seq: StrictInt = Field(ge=0)


class MemberIn(Body):
    person_id: uuid.UUID
    share_history: StrictBool = True


class InviteIn(Body):
    email: StrictStr = Field(max_length=254)
    name: StrictStr = Field(max_length=200)
    role: StrictStr = Field(max_length=20)
    rpps: StrictStr | None = Field(None, max_length=20)


class AcceptIn(Body):
    password: StrictStr = Field(max_length=256)


class ConfirmIn(Body):
    otp: StrictStr = Field(max_length=16)


class RoleIn(Body):
    role: StrictStr = Field(max_length=20)
