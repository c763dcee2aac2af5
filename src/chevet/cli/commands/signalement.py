"""``chevet signalement …``: name quality leads and directors, send deadline reminders."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import typer

from chevet.app.identity import organisations
from chevet.app.signalement import designations, filing, forms
from chevet.bootstrap import Installation, open_installation
from chevet.cli.support import DataDir
from chevet.cli.support import run as _run
from chevet.cli.support import settings_for as _settings

NAME = "signalement"
app = typer.Typer(help="Adverse-event reports (signalement).", no_args_is_help=True)


@app.command("designate")
def designate(org: Annotated[str, typer.Option(help="Organisation slug")],
              email: Annotated[str, typer.Option(help="The person's e-mail address")],
              function: Annotated[str, typer.Option(help="quality_lead or director")] = "quality_lead",
              off: Annotated[bool, typer.Option("--off", help="Remove the designation")] = False,
              data_dir: DataDir = None) -> None:
    """Name (or, with --off, un-name) a quality lead or a director of an organisation."""

    async def go(i: Installation) -> uuid.UUID:
        o = await organisations.organisation_by_slug(i.services, org)
        return await designations.designate_by_operator(i.services, o.id, email, function, not off)

    person_id = _run(go, _settings(data_dir))
    typer.echo(f"{'removed' if off else 'set'} {function} for {person_id}")


@app.command("remind")
def remind(data_dir: DataDir = None) -> None:
    """Notify quality leads and directors of deadlines that come close or are missed. The server
    does this every five minutes by itself; this command is for timers and tests. With Redis
    configured, the notifications reach every server process. Like the server's round, it also
    appends the audit entries of anonymous filings made since the last one."""
    settings = _settings(data_dir)

    async def go() -> int:
        installation = open_installation(settings, with_bus=True)
        try:
            await filing.record_anonymous_filings(installation.services)
            return await forms.send_reminders(installation.services)
        finally:
            await installation.close()

    typer.echo(f"{asyncio.run(go())} reminder(s) sent")

