"""An in-process HTTP client on a test installation, for the attachment tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from chevet.bootstrap import Installation
from chevet.web.app import create_app
from tests.support import Member, new_member, new_org


class Api:
    def __init__(self, installation: Installation) -> None:
        self.installation = installation
        self.app = create_app(installation)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://chevet.test")
        self.tokens: dict[uuid.UUID, str] = {}

    async def login(self, member: Member) -> None:
        r = await self.client.post("/api/v1/auth/login", json={"email": member.email, "password": member.password,
                                                               "otp": member.otp()})
        assert r.status_code == 200, r.text
        self.tokens[member.id] = r.json()["token"]

    def auth(self, member: Member, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[member.id]}", **extra}

    async def team(self, kind: str = "group", title: str = "Équipe") -> tuple[Member, Member, str]:
        """A nurse and a physician of a new organisation, signed in, and a conversation of theirs."""
        svc = self.installation.services
        org = await new_org(svc)
        nurse = await new_member(svc, org, "nurse")
        doctor = await new_member(svc, org, "physician")
        for m in (nurse, doctor):
            await self.login(m)
        return nurse, doctor, await self.conversation(nurse, doctor, kind=kind, title=title)

    async def conversation(self, owner: Member, *others: Member, kind: str = "group", title: str = "Équipe") -> str:
        body: dict[str, Any] = {"kind": kind, "member_ids": [str(o.id) for o in others]}
        if kind != "direct":
            body["title"] = title
        if kind == "care_case":
            body["care_case_ref"] = "CH12"
        r = await self.client.post("/api/v1/conversations", headers=self.auth(owner), json=body)
        assert r.status_code in (200, 201), r.text
        return str(r.json()["id"])

    async def upload(self, member: Member, conv: str, data: bytes, name: str = "photo.jpg",
                     content_type: str = "image/jpeg", lang: str = "fr") -> httpx.Response:
        return await self.client.post(f"/api/v1/conversations/{conv}/attachments",
                                      headers=self.auth(member, **{"Accept-Language": lang}),
                                      files={"file": (name, data, content_type)})

    async def send(self, member: Member, conv: str, ids: list[str], body: str = "", client_id: str | None = None
                   ) -> httpx.Response:
        return await self.client.post(f"/api/v1/conversations/{conv}/messages", headers=self.auth(member),
                                      json={"body": body, "client_id": client_id or uuid.uuid4().hex,
                                            "attachment_ids": ids})

    async def close(self) -> None:
        await self.client.aclose()
