"""The web client: server-rendered pages (French first, English available) enhanced by a
little hand-written JavaScript. Reading and sending work without JavaScript."""

from __future__ import annotations

from fastapi import APIRouter

from chevet.web.ui import account, admin, auth, conversations, static

router = APIRouter(include_in_schema=False)
for _module in (static, auth, conversations, account, admin):
    router.include_router(_module.router)
