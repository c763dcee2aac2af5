"""Settings of the trust space's list of domains (liste blanche), enforced by the SMTP
listener (``[listener.whitelist]`` in ``mssante.toml``).

Running the listener makes the installation an MSSanté operator for its own domain. It
therefore starts only with a list to enforce and with ``operator_obligations_acknowledged =
true``, written by the administrator once the establishment has met what remains its own to do
(operator contract with the ANS, IGC-Santé server certificate, directory feed, indicators:
see ``docs/mssante.md``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chevet.core.mssante.whitelist import DEFAULT_NAMESPACE


class ListenerWhitelistSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(description="path or https URL of the national list (XML)")
    trust_anchor: Path | None = Field(None, description="CA(s) of the list's https server (IGC-Santé)")
    namespace: str = Field(DEFAULT_NAMESPACE, min_length=1, max_length=300,
                           description="XML namespace of the list's root element; another one is refused")
    refresh_hours: float = Field(24, ge=1, le=24 * 7)
    max_age_days: float = Field(7, gt=0, le=90,
                                description="a list generated longer ago than this is out of date: mail waits (4xx)")
    unlisted: Literal["refuse", "quarantine"] = Field(
        "refuse", description='"refuse": SMTP 550 to a sender outside the list; "quarantine": kept for the '
                              "administrator, never shown to members")

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        if v.startswith("http://"):
            raise ValueError("plain http is refused: use https or a local path")
        return v


OBLIGATIONS = ("the SMTP listener makes this installation an MSSanté operator for its domain: it starts only "
               "with [listener.whitelist] (the trust space's list of domains) and "
               "operator_obligations_acknowledged = true, once the establishment has its operator contract, "
               "an IGC-Santé server certificate, its directory feed and its indicators (docs/mssante.md)")
