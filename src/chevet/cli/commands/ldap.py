"""``chevet ldap sync``: synchronise people and teams from the LDAP directory / Active Directory
configured in ``[directory_sync]`` (``chevet directory`` is the MSSanté Annuaire Santé). A preview
by default; ``--apply`` makes the changes; ``--force`` passes the safety stop."""

from __future__ import annotations

from typing import Annotated

import typer

from chevet.app.identity import directory_sync
from chevet.app.identity.organisations import organisation_by_slug
from chevet.bootstrap import Installation
from chevet.bootstrap.directory_sync import directory_from, options_from
from chevet.cli.support import DataDir, echo_json, fail, run, settings_for
from chevet.web.invitation_mail import invitation_mail

NAME = "ldap"
app = typer.Typer(help="People and teams from an LDAP directory or Active Directory.", no_args_is_help=True)


@app.command("sync")
def sync(org: Annotated[str, typer.Option(help="Organisation slug")],
         apply: Annotated[bool, typer.Option("--apply", help="Make the changes (default: preview only)")] = False,
         force: Annotated[bool, typer.Option("--force", help="Pass the safety stop on many leavers")] = False,
         data_dir: DataDir = None) -> None:
    """Print what the directory would change (or changed, with --apply): counts, never names."""
    settings = settings_for(data_dir)
    directory = directory_from(settings)
    if directory is None or settings.directory_sync.organisation != org:
        raise fail(f"no [directory_sync] configured for organisation {org}", 2)

    async def go(i: Installation) -> dict[str, object]:
        o = await organisation_by_slug(i.services, org)
        days = max(1, round(i.services.policy.invitation_lifetime.total_seconds() / 86400))
        report = await directory_sync.sync(i.services, o, directory, options_from(settings, force=force),
                                           apply=apply, mail=invitation_mail(settings.origin, o.name, days))
        return {"applied": report.applied, "outcome": report.outcome, "reason": report.reason,
                "created": report.created, "updated": report.updated, "deactivated": report.deactivated}

    result = run(go, settings)
    echo_json(result)
    if result["outcome"] != "done":
        raise typer.Exit(1)
