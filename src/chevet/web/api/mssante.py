"""MSSanté external exchanges and the quarantine, over JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import Field, StrictBool, StrictStr

from chevet.app.messaging.views import MessageView
from chevet.app.mssante import exchanges as mssante
from chevet.app.mssante import inbound
from chevet.app.mssante.gateway import Gateway
from chevet.app.mssante.views import ExchangeMessagesView, ExchangeView, MssMessageView, QuarantinedView
from chevet.core.errors import InvalidInput
from chevet.core.ids import parse_id
from chevet.web.api.models import Body
from chevet.web.api.openapi import answers, refusals
from chevet.web.deps import ActorDep, ServicesDep
from chevet.web.responses import Json

router = APIRouter(tags=["mssante"])


def configured_gateway(request: Request) -> Gateway | None:
    """The configured gateway (loaded once, when the application is made), or None."""
    runtime = getattr(request.app.state, "mssante_runtime", None)
    if runtime is None:
        return None
    gw: Gateway = runtime.gateway
    return gw


def gateway(request: Request) -> Gateway:
    """The configured gateway; refused when not configured."""
    gw = configured_gateway(request)
    if gw is None:
        raise InvalidInput("mss_not_configured")
    return gw


GatewayDep = Annotated[Gateway, Depends(gateway)]


class ExchangeIn(Body):
    to: list[StrictStr] = Field(min_length=1, max_length=20)
    title: StrictStr | None = Field(None, max_length=500)
    mailbox: StrictStr | None = Field(None, max_length=254)


class PatientIn(Body):
    """The patient the message is about: strict traits, INS and its RNIV status (PROV, RECUP,
    VALI, QUAL). Required, qualified, to write to a ``@patient.mssante.fr`` address."""

    birth_name: StrictStr = Field(max_length=200)
    first_given_name: StrictStr = Field(max_length=200)
    birth_date: StrictStr = Field(max_length=10, description="AAAA-MM-JJ")
    sex: StrictStr = Field(max_length=1, description="F, M or U")
    status: StrictStr = Field(max_length=5, description="PROV, RECUP, VALI or QUAL")
    ins: StrictStr = Field("", max_length=30)
    ins_oid: StrictStr = Field("", max_length=64)
    given_names: StrictStr = Field("", max_length=200)
    used_name: StrictStr = Field("", max_length=200)
    used_given_name: StrictStr = Field("", max_length=200)
    birth_place: StrictStr = Field("", max_length=5)
    doubtful: StrictBool = Field(False, description="RNIV attribute « identité douteuse »")
    fictitious: StrictBool = Field(False, description="RNIV attribute « identité fictive »")


class MailIn(Body):
    body: StrictStr
    client_id: StrictStr = Field(max_length=64)
    subject: StrictStr | None = Field(None, max_length=500)
    attachment_ids: list[StrictStr] = Field(default_factory=list, max_length=20)
    request_receipt: StrictBool = False
    patient: PatientIn | None = None
    replies_blocked: StrictBool = False


@router.post("/mssante/exchanges", status_code=201)
async def open_exchange(body: ExchangeIn, actor: ActorDep, svc: ServicesDep, gw: GatewayDep) -> ExchangeView:
    return await mssante.open_exchange(svc, gw, actor, to=body.to, title=body.title, mailbox=body.mailbox)


@router.post("/mssante/exchanges/{conversation_id}/messages", status_code=201, response_model=MssMessageView,
             responses={200: {"model": MessageView, "description": "Sent before with this ``client_id``"},
                        **refusals(413)})
async def send(conversation_id: str, body: MailIn, request: Request, actor: ActorDep,
               svc: ServicesDep) -> Json:
    # Another organisation's exchange is "not found" before anything is said about the gateway.
    await mssante.exchange_messages(svc, actor, parse_id(conversation_id))
    gw = gateway(request)
    patient = mssante.entered_patient(svc, body.patient.model_dump()) if body.patient is not None else None
    view, created = await mssante.send(svc, gw, actor, parse_id(conversation_id), body=body.body,
                                       client_id=body.client_id, subject=body.subject,
                                       attachment_ids=[parse_id(a) for a in body.attachment_ids],
                                       request_receipt=body.request_receipt, patient=patient,
                                       replies_blocked=body.replies_blocked)
    return Json(view, status_code=201 if created else 200)


@router.get("/mssante/exchanges/{conversation_id}/messages")
async def messages(conversation_id: str, request: Request, actor: ActorDep,
                   svc: ServicesDep) -> ExchangeMessagesView:
    """The exchange; reading it sends the "displayed" receipts still owed (when configured)."""
    return await mssante.exchange_messages(svc, actor, parse_id(conversation_id), configured_gateway(request))


class ReceiptAnswer(Body):
    send: StrictBool


@router.post("/mssante/exchanges/{conversation_id}/messages/{message_id}/receipt", status_code=204)
async def receipt(conversation_id: str, message_id: str, body: ReceiptAnswer, request: Request, actor: ActorDep,
                  svc: ServicesDep) -> Response:
    """Answer a receipt request sent to another address than the sender's (RFC 8098 §2.1)."""
    await mssante.exchange_messages(svc, actor, parse_id(conversation_id))
    await mssante.answer_receipt(svc, gateway(request), actor, parse_id(conversation_id), parse_id(message_id),
                                 body.send)
    return Response(status_code=204)


@router.post("/mssante/exchanges/{conversation_id}/messages/{message_id}/retry", status_code=204)
async def retry(conversation_id: str, message_id: str, actor: ActorDep, svc: ServicesDep) -> Response:
    await mssante.retry_dead(svc, actor, parse_id(conversation_id), parse_id(message_id))
    return Response(status_code=204)


@router.get("/mssante/quarantine")
async def quarantine(actor: ActorDep, svc: ServicesDep, all: bool = False) -> list[QuarantinedView]:
    return await inbound.quarantined(svc, actor, include_released=all)


@router.get("/mssante/quarantine/{record_id}/raw", response_class=Response,
            responses=answers("application/octet-stream"))
async def quarantined_raw(record_id: str, actor: ActorDep, svc: ServicesDep) -> Response:
    data = await inbound.quarantined_mail(svc, actor, parse_id(record_id))
    return Response(data, media_type="application/octet-stream",
                    headers={"Content-Disposition": "attachment; filename=quarantine.eml", "Cache-Control": "no-store"})


@router.post("/mssante/quarantine/{record_id}/release", status_code=204)
async def release(record_id: str, actor: ActorDep, svc: ServicesDep) -> Response:
    await inbound.release(svc, actor, parse_id(record_id))
    return Response(status_code=204)
