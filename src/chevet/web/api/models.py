"""Request bodies and query values, strict: ``false`` is not the number 0, ``1`` is not the text
"1" nor a date in 1970, ``"5"`` is not a number, and an unknown field is refused rather than
ignored. Every body model of the API derives from ``Body``; the only values read leniently are
those JSON cannot carry as themselves (identifiers and moments arrive as text), and even
those accept text only, in their one documented form."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from pydantic_core import PydanticCustomError


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


def _id_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise PydanticCustomError("id_type", "Input should be an identifier (UUID) as a string")
    return value


# ISO 8601 date and time: not a bare number of seconds, which pydantic would read as Unix time.
_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}")


def _moment_text(value: Any) -> Any:
    if not isinstance(value, str) or not _ISO_MOMENT.match(value):
        raise PydanticCustomError("moment_type", "Input should be an ISO 8601 date and time with its time zone")
    return value


def _decimal_text(value: Any) -> Any:
    # A query value is text; only plain decimal digits are a number ("1.0", "5_0", " 5" are not).
    if isinstance(value, str):
        if not re.fullmatch(r"-?[0-9]{1,18}", value):
            raise PydanticCustomError("int_type", "Input should be a valid integer")
        return int(value)
    return value


Id = Annotated[uuid.UUID, Field(strict=False), BeforeValidator(_id_text)]
"""A UUID, given as a JSON string."""
Moment = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_moment_text)]
"""A moment: an ISO 8601 date and time with its offset, e.g. ``2026-03-01T08:30:00+01:00``."""
Digits = BeforeValidator(_decimal_text)
"""For an integer query parameter, written in decimal digits only, after its bounds so that
the OpenAPI document keeps them: ``Annotated[StrictInt, Field(ge=1, le=200), Digits, Query()]``."""


class LoginIn(Body):
    email: StrictStr = Field(max_length=254)
    password: StrictStr = Field(max_length=256)
    otp: StrictStr = Field(max_length=32)  # a TOTP code, or a recovery code (XXXX-XXXX-XXXX-XXXX)


class ConversationIn(Body):
    kind: StrictStr = Field(max_length=20)
    title: StrictStr | None = Field(None, max_length=500)
    member_ids: list[Id] = Field(default_factory=list, max_length=1000)
    care_case_ref: StrictStr | None = Field(None, max_length=200)
    team_id: Id | None = None


class MessageIn(Body):
    body: StrictStr
    client_id: StrictStr = Field(max_length=64)
    urgent: StrictBool = False
    reply_to: Id | None = None
    attachment_ids: list[Id] = Field(default_factory=list, max_length=10)
    # Who must act (person:<id>, role:<address>, on_call:<team id>): the message is urgent and raises an alert.
    alert_for: StrictStr | None = Field(default=None, max_length=100)


class EditIn(Body):
    body: StrictStr


class ReadIn(Body):
    seq: StrictInt = Field(ge=0)


class MemberIn(Body):
    person_id: Id
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
