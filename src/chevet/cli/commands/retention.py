"""``chevet retention …``: apply the retention policies now (or as of a date), see and set them
(conversations, and closed signalement reports per record type), put a conversation under
legal hold."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from chevet.app.governance import retention
from chevet.app.identity.organisations import organisation_by_slug
from chevet.app.signalement import retention as report_retention
from chevet.bootstrap import Installation
from chevet.cli.support import DataDir, echo_json, fail, parse_time, run, settings_for

NAME = "retention"
app = typer.Typer(help="Retention: policies, legal hold, purge.", no_args_is_help=True)


@app.command("apply")
def apply(as_of: Annotated[str | None, typer.Option("--as-of", help="Apply as of this date/time (UTC)")] = None,
          dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would go; change nothing")] = False,
          org: Annotated[str | None, typer.Option(help="Only this organisation (slug)")] = None,
          data_dir: DataDir = None) -> None:
    """Crypto-shred expired conversations and delete expired messages; print what was removed."""
    when = parse_time(as_of, "--as-of")

    async def go(i: Installation) -> dict[str, object]:
        org_id = (await organisation_by_slug(i.services, org)).id if org else None
        return (await retention.purge(i.services, when, dry_run=dry_run, org_id=org_id)).as_dict()

    echo_json(run(go, settings_for(data_dir)))


@app.command("policy")
def policy(org: Annotated[str, typer.Option(help="Organisation slug")],
           kind: Annotated[str | None, typer.Option(help="direct, group, team or care_case")] = None,
           days: Annotated[int | None, typer.Option()] = None,
           min_days: Annotated[int | None, typer.Option("--min-days")] = None,
           max_days: Annotated[int | None, typer.Option("--max-days")] = None,
           data_dir: DataDir = None) -> None:
    """Show the organisation's policies, or set one kind's (with --kind and --days)."""
    async def go(i: Installation) -> object:
        o = await organisation_by_slug(i.services, org)
        if kind is not None:
            if days is None:
                raise fail("--days is required with --kind", 2)
            from chevet.core.conversation import parse_kind

            current = {p["kind"]: p for p in await retention.policies(i.services, None, o.id)}
            cur = current[parse_kind(kind).value]
            return await retention.set_policy(i.services, None, o.id, kind, days=days,
                                              min_days=min_days if min_days is not None else min(cur["min_days"], days),
                                              max_days=max_days if max_days is not None else max(cur["max_days"], days))
        return await retention.policies(i.services, None, o.id)

    echo_json(run(go, settings_for(data_dir)))


@app.command("reports")
def report_policy(org: Annotated[str, typer.Option(help="Organisation slug")],
                  record_type: Annotated[str | None, typer.Option("--type", help="signalement.internal, .essms, "
                                                                                  ".eigs, .security or .gdpr")] = None,
                  days: Annotated[int | None, typer.Option(help="Days kept after the report's closure")] = None,
                  data_dir: DataDir = None) -> None:
    """Show how long closed signalement reports are kept, or set one record type's period."""
    async def go(i: Installation) -> object:
        o = await organisation_by_slug(i.services, org)
        if record_type is not None:
            if days is None:
                raise fail("--days is required with --type", 2)
            return await report_retention.set_retention(i.services, None, o.id, record_type, days)
        return await report_retention.retention_policies(i.services, None, o.id)

    echo_json(run(go, settings_for(data_dir)))


@app.command("hold")
def hold(org: Annotated[str, typer.Option(help="Organisation slug")],
         conversation: Annotated[str, typer.Option(help="Conversation id")],
         lift: Annotated[bool, typer.Option("--lift", help="Lift the hold")] = False,
         data_dir: DataDir = None) -> None:
    """Put a conversation under legal hold (nothing of it is deleted) or lift the hold."""
    try:
        conv_id = uuid.UUID(conversation)
    except ValueError as exc:
        raise fail("--conversation: not an id", 2) from exc

    async def go(i: Installation) -> None:
        o = await organisation_by_slug(i.services, org)
        await retention.set_legal_hold(i.services, None, o.id, conv_id, not lift)

    run(go, settings_for(data_dir))
    typer.echo("legal hold lifted" if lift else "legal hold set")
