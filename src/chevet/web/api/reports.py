"""Signalement API: internal reports, qualification, forms, follow-up, deadlines, statistics."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field, StrictBool, StrictInt, StrictStr
from typing_extensions import TypedDict

from chevet.app.attachments import download as attachment_download
from chevet.app.identity import auth
from chevet.app.services import Actor, Services
from chevet.app.signalement import designations, filing, handling, reports
from chevet.app.signalement import files as report_files
from chevet.app.signalement import forms as report_forms
from chevet.app.signalement.views import (
    DeadlinesDashboardView,
    FollowupView,
    FormView,
    ReportHeadline,
    ReportView,
)
from chevet.core.errors import AuthenticationFailed
from chevet.core.ids import parse_id
from chevet.core.signalement import statistics
from chevet.web import json_body
from chevet.web.api.attachments import file_response, parse_range
from chevet.web.api.models import Body, Id, Moment
from chevet.web.api.openapi import DOWNLOAD, answers, refusals
from chevet.web.deps import SESSION_COOKIE, ActorDep, ServicesDep, bearer_token, client_ip, limit_attempts, services
from chevet.web.uploads import read_multipart

router = APIRouter(tags=["signalement"])
# The routes that take a report with its files: bigger bodies than the usual JSON.
FILING_PATHS = re.compile(r"^(/api/v1/reports/with-files|/signalement/nouveau)$")


async def quiet_actor(request: Request, svc: Annotated[Services, Depends(services)]) -> Actor:
    """The signed-in reporter, found without updating the session's last-use time (an
    anonymous report must leave no timestamp on its reporter's session)."""
    token = bearer_token(request.headers.get("authorization")) or request.cookies.get(SESSION_COOKIE)
    if not token:
        raise AuthenticationFailed("authentication_required")
    return await auth.authenticate(svc, token, client_ip(request), touch=False)


QuietActorDep = Annotated[Actor, Depends(quiet_actor)]


class FiledView(TypedDict):
    id: str
    followup_code: str


class FunctionsView(TypedDict):
    functions: list[str]


class CreatedView(TypedDict):
    id: str


class DiscussionView(TypedDict):
    conversation_id: str


class DeadlineCounts(TypedDict):
    met: int
    missed: int
    open: int


class ActionCounts(TypedDict):
    done: int
    total: int


StatisticsView = TypedDict("StatisticsView", {
    "from": str, "to": str, "months": list[str], "total": int, "by_category": dict[str, int],
    "by_severity": dict[str, int], "by_unit": dict[str, int], "by_month_severity": dict[str, list[int]],
    "eigs": int, "security": int, "gdpr": int, "deadlines": DeadlineCounts, "actions": ActionCounts})


class ReportIn(Body):
    mode: StrictStr = Field(max_length=20)
    what: StrictStr = Field(max_length=20_000)
    occurred_at: Moment
    discovered_at: Moment | None = None
    place: StrictStr = Field(max_length=1000)
    affected_refs: list[StrictStr] = Field(default_factory=list, max_length=50)
    affected_count: StrictInt | None = None
    immediate_measures: StrictStr | None = Field(None, max_length=20_000)
    team_id: Id | None = None


class QualificationIn(Body):
    severity: StrictStr = Field(max_length=20)
    categories: list[StrictStr] = Field(default_factory=list, max_length=11)
    eigs: list[StrictStr] = Field(default_factory=list, max_length=3)
    security: list[StrictStr] = Field(default_factory=list, max_length=4)
    gdpr_breach: StrictBool = False
    awareness_at: Moment | None = None
    note: StrictStr | None = Field(None, max_length=20_000)


class ReaderIn(Body):
    person_id: Id


class AnalysisIn(Body):
    method: StrictStr = Field(max_length=1000)
    date: StrictStr | None = Field(None, max_length=1000)
    root_causes: StrictStr = Field(max_length=20_000)
    lessons: StrictStr | None = Field(None, max_length=20_000)


class ActionIn(Body):
    title: StrictStr = Field(max_length=1000)
    owner_id: Id | None = None
    due_at: Moment | None = None


class FeedbackIn(Body):
    text: StrictStr = Field(max_length=20_000)


class DiscussionIn(Body):
    member_ids: list[Id] = Field(default_factory=list, max_length=200)


class FormIn(Body):
    values: dict[str, StrictStr | StrictInt | StrictBool | None] = Field(max_length=60)


class SubmissionIn(Body):
    channel: StrictStr = Field(max_length=20)
    at: Moment | None = None
    reference: StrictStr | None = Field(None, max_length=1000)


class FollowupIn(Body):
    code: StrictStr = Field(max_length=64)


class DesignationIn(Body):
    person_id: Id
    function: StrictStr = Field(max_length=20)
    on: StrictBool = True


@router.post("/reports", status_code=201, responses=refusals(401, 403))
async def file_report(body: ReportIn, actor: QuietActorDep, svc: ServicesDep) -> FiledView:
    """File an internal report. ``followup_code`` is shown once: keep it to read the feedback."""
    filed = await filing.file_report(
        svc, actor, mode=body.mode, what=body.what, occurred_at=body.occurred_at, discovered_at=body.discovered_at,
        place=body.place, affected_refs=body.affected_refs, affected_count=body.affected_count,
        immediate_measures=body.immediate_measures, team_id=body.team_id)
    return {"id": str(filed.report_id), "followup_code": filed.followup_code}


@router.post("/reports/with-files", status_code=201, responses=refusals(400, 401, 403, 413))
async def file_report_with_files(request: Request, actor: QuietActorDep, svc: ServicesDep) -> FiledView:
    """File a report with photos or documents: ``multipart/form-data`` with the report as JSON
    in the field ``report`` (as for ``POST /reports``) and one part ``file`` per file. The files
    go through the attachment checks (types, antivirus, photos cleaned of EXIF/GPS); together
    they weigh at most the upload limit. A refused file refuses the report: nothing is stored."""
    limits = report_files.limits(svc)
    form = await read_multipart(request, limits.max_upload_bytes, limits.max_per_message, frozenset({"report"}))
    body = json_body.validated(ReportIn, json_body.parse(form.one("report") or "{}"))
    filed = await filing.file_report(
        svc, actor, mode=body.mode, what=body.what, occurred_at=body.occurred_at, discovered_at=body.discovered_at,
        place=body.place, affected_refs=body.affected_refs, affected_count=body.affected_count,
        immediate_measures=body.immediate_measures, team_id=body.team_id,
        files=[report_files.IncomingFile(f.name, f.data) for f in form.files])
    return {"id": str(filed.report_id), "followup_code": filed.followup_code}


@router.get("/reports")
async def list_reports(actor: ActorDep, svc: ServicesDep) -> list[ReportHeadline]:
    return await reports.list_reports(svc, actor)


@router.post("/reports/followup", responses=refusals(404, 429))
async def followup(body: FollowupIn, request: Request, svc: ServicesDep) -> FollowupView:
    """Read the status and the feedback of a report with its follow-up code (no sign-in)."""
    limit_attempts(request, "report-followup")
    return await filing.followup(svc, body.code)


@router.get("/reports/deadlines")
async def deadlines(actor: ActorDep, svc: ServicesDep) -> DeadlinesDashboardView:
    return await report_forms.dashboard(svc, actor)


@router.get("/reports/functions")
async def my_functions(actor: ActorDep, svc: ServicesDep) -> FunctionsView:
    return {"functions": sorted(f.value for f in await designations.my_functions(svc, actor))}


@router.put("/reports/designations", status_code=204)
async def designate(body: DesignationIn, actor: ActorDep, svc: ServicesDep) -> Response:
    await designations.designate(svc, actor, body.person_id, body.function, body.on)
    return Response(status_code=204)


def _period(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    from chevet.core.errors import InvalidInput
    from chevet.core.signalement.deadlines import PARIS

    try:
        now = datetime.now(UTC).astimezone(PARIS)
        a = datetime.fromisoformat(start) if start else now.replace(month=1, day=1, hour=0, minute=0, second=0,
                                                                   microsecond=0)
        b = datetime.fromisoformat(end) if end else a.replace(year=a.year + 1)
    except ValueError as exc:
        raise InvalidInput("report_period_invalid") from exc
    a = a if a.tzinfo else a.replace(tzinfo=PARIS)
    b = b if b.tzinfo else b.replace(tzinfo=PARIS)
    return a, b


@router.get("/reports/statistics")
async def stats(actor: ActorDep, svc: ServicesDep, start: str | None = Query(None, alias="from", max_length=40),
                end: str | None = Query(None, alias="to", max_length=40)) -> StatisticsView:
    """Counts for the annual quality report (from/to: ISO dates, Europe/Paris; default: this year)."""
    a, b = _period(start, end)
    st = await report_forms.report_statistics(svc, actor, a, b)
    return {"from": a.isoformat(), "to": b.isoformat(), "months": st.months, "total": st.total,
            "by_category": dict(st.by_category), "by_severity": dict(st.by_severity), "by_unit": dict(st.by_unit),
            "by_month_severity": st.by_month_severity, "eigs": st.eigs, "security": st.security, "gdpr": st.gdpr,
            "deadlines": {"met": st.deadlines_met, "missed": st.deadlines_missed, "open": st.deadlines_open},
            "actions": {"done": st.actions_done, "total": st.actions_total}}


@router.get("/reports/statistics.csv", response_class=Response, responses=answers("text/csv", text=True))
async def stats_csv(actor: ActorDep, svc: ServicesDep, start: str | None = Query(None, alias="from", max_length=40),
                    end: str | None = Query(None, alias="to", max_length=40)) -> Response:
    a, b = _period(start, end)
    st = await report_forms.report_statistics(svc, actor, a, b)
    return Response(statistics.to_csv(st).encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="signalements-{a:%Y%m%d}-{b:%Y%m%d}.csv"'})


@router.get("/reports/{report_id}")
async def get_report(report_id: str, actor: ActorDep, svc: ServicesDep) -> ReportView:
    return await reports.get_report(svc, actor, parse_id(report_id))


@router.get("/reports/{report_id}/files/{file_id}", response_class=Response, responses=DOWNLOAD)
async def download_file(report_id: str, file_id: str, request: Request, actor: ActorDep,
                        svc: ServicesDep) -> Response:
    """A file of the report, decrypted, for those who may read the report (each download traced)."""
    rid, fid = parse_id(report_id), parse_id(file_id)
    try:
        d = await reports.download_file(svc, actor, rid, fid, parse_range(request.headers.get("range")))
    except attachment_download.RangeNotSatisfiable as exc:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{exc.params.get('size', 0)}"})
    return await file_response(request, d, f'"{fid}"', inline=d.kind.value == "image")


@router.post("/reports/{report_id}/qualification")
async def qualify(report_id: str, body: QualificationIn, actor: ActorDep, svc: ServicesDep) -> ReportView:
    return await handling.qualify(svc, actor, parse_id(report_id), severity=body.severity,
                                 categories=body.categories, eigs=body.eigs, security=body.security,
                                 gdpr_breach=body.gdpr_breach, awareness_at=body.awareness_at, note=body.note)


@router.post("/reports/{report_id}/readers", status_code=204)
async def add_reader(report_id: str, body: ReaderIn, actor: ActorDep, svc: ServicesDep) -> Response:
    await handling.add_reader(svc, actor, parse_id(report_id), body.person_id)
    return Response(status_code=204)


@router.delete("/reports/{report_id}/readers/{person_id}", status_code=204)
async def remove_reader(report_id: str, person_id: str, actor: ActorDep, svc: ServicesDep) -> Response:
    await handling.add_reader(svc, actor, parse_id(report_id), parse_id(person_id), on=False)
    return Response(status_code=204)


@router.put("/reports/{report_id}/analysis", status_code=204)
async def analysis(report_id: str, body: AnalysisIn, actor: ActorDep, svc: ServicesDep) -> Response:
    await handling.record_analysis(svc, actor, parse_id(report_id), method=body.method, date=body.date,
                                  root_causes=body.root_causes, lessons=body.lessons)
    return Response(status_code=204)


@router.post("/reports/{report_id}/actions", status_code=201)
async def add_action(report_id: str, body: ActionIn, actor: ActorDep, svc: ServicesDep) -> CreatedView:
    action_id = await handling.add_action(svc, actor, parse_id(report_id), title=body.title, owner_id=body.owner_id,
                                         due_at=body.due_at)
    return {"id": str(action_id)}


@router.post("/reports/{report_id}/actions/{action_id}/done", status_code=204)
async def action_done(report_id: str, action_id: str, actor: ActorDep, svc: ServicesDep) -> Response:
    await handling.complete_action(svc, actor, parse_id(report_id), parse_id(action_id))
    return Response(status_code=204)


@router.delete("/reports/{report_id}/actions/{action_id}/done", status_code=204)
async def action_reopen(report_id: str, action_id: str, actor: ActorDep, svc: ServicesDep) -> Response:
    await handling.complete_action(svc, actor, parse_id(report_id), parse_id(action_id), done=False)
    return Response(status_code=204)


@router.put("/reports/{report_id}/feedback", status_code=204)
async def feedback(report_id: str, body: FeedbackIn, actor: ActorDep, svc: ServicesDep) -> Response:
    await handling.give_feedback(svc, actor, parse_id(report_id), body.text)
    return Response(status_code=204)


@router.post("/reports/{report_id}/close", status_code=204)
async def close(report_id: str, actor: ActorDep, svc: ServicesDep) -> Response:
    await handling.close(svc, actor, parse_id(report_id))
    return Response(status_code=204)


@router.post("/reports/{report_id}/discussion", status_code=201)
async def discussion(report_id: str, body: DiscussionIn, actor: ActorDep, svc: ServicesDep) -> DiscussionView:
    cid = await handling.open_discussion(svc, actor, parse_id(report_id), body.member_ids)
    return {"conversation_id": str(cid)}


@router.get("/reports/{report_id}/forms/{kind}")
async def get_form(report_id: str, kind: str, actor: ActorDep, svc: ServicesDep) -> FormView:
    """The form pre-filled from the report (or the saved draft), with its missing required fields."""
    return await report_forms.get_form(svc, actor, parse_id(report_id), kind)


@router.put("/reports/{report_id}/forms/{kind}")
async def save_form(report_id: str, kind: str, body: FormIn, actor: ActorDep, svc: ServicesDep) -> FormView:
    return await report_forms.save_form(svc, actor, parse_id(report_id), kind, body.values)


@router.post("/reports/{report_id}/forms/{kind}/validate")
async def validate_form(report_id: str, kind: str, actor: ActorDep, svc: ServicesDep) -> FormView:
    return await report_forms.validate_form(svc, actor, parse_id(report_id), kind)


@router.get("/reports/{report_id}/forms/{kind}/export", response_class=Response,
            responses=answers("application/pdf", "application/json", description="The form (``format``: pdf, json)"))
async def export_form(report_id: str, kind: str, actor: ActorDep, svc: ServicesDep,
                      format: str = Query("pdf", max_length=8)) -> Response:
    out = await report_forms.export_form(svc, actor, parse_id(report_id), kind, format)
    return Response(out.body, media_type=out.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{out.filename}"',
                             "Cache-Control": "no-store"})


@router.post("/reports/{report_id}/forms/{kind}/submissions", status_code=204)
async def submission(report_id: str, kind: str, body: SubmissionIn, actor: ActorDep, svc: ServicesDep) -> Response:
    await report_forms.record_submission(svc, actor, parse_id(report_id), kind, at=body.at, channel=body.channel,
                                         reference=body.reference)
    return Response(status_code=204)
