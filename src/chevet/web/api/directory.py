"""The health directory: local search (no external call)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field, StrictInt

from chevet.app.mssante import directory
from chevet.web.api.models import Digits
from chevet.web.deps import ActorDep, ServicesDep

router = APIRouter(tags=["directory"])


@router.get("/directory")
async def search(actor: ActorDep, svc: ServicesDep, q: str = Query(..., max_length=200),
                 type: str | None = Query(None, max_length=3),
                 limit: Annotated[StrictInt, Field(ge=1, le=50), Digits, Query()] = 20
                 ) -> list[directory.DirectoryEntryView]:
    """Mailboxes whose words start with every word of ``q`` (name, profession, structure, town,
    address); ``type`` filters on PER, ORG, APP or CAB."""
    return await directory.search(svc, actor, q, mailbox_type=type, limit=limit)


@router.get("/directory/status")
async def status(actor: ActorDep, svc: ServicesDep) -> directory.DirectoryStatusView:
    return await directory.status(svc) or {"imported_at": None}
