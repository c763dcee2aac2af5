"""``chevet people import``: provision staff from a CSV file (see docs/staff-import.md). A preview
by default, in French: the number of people to invite and every refused line by its number;
``--apply`` invites them (the invitation e-mails leave from the server's outbox), with progress."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chevet.app.identity import staff_import
from chevet.app.identity.organisations import organisation_by_slug
from chevet.bootstrap import Installation
from chevet.cli.support import DataDir, fail, run, settings_for
from chevet.core.staff_file import MAX_BYTES, StaffFileRejected
from chevet.web.i18n import gettext
from chevet.web.invitation_mail import invitation_mail
from chevet.web.staff_problems import problem_text, rejected_text

NAME = "people"
app = typer.Typer(help="People: provisioning from a staff file.", no_args_is_help=True)


@app.command("import")
def import_staff(file: Annotated[Path, typer.Argument(help="The staff CSV file")],
                 org: Annotated[str, typer.Option(help="Organisation slug")],
                 apply: Annotated[bool, typer.Option("--apply", help="Invite them (default: preview only)")] = False,
                 lang: Annotated[str, typer.Option(help="Language of the report: fr or en")] = "fr",
                 data_dir: DataDir = None) -> None:
    """Check a staff file against the organisation; with --apply, invite every valid line."""
    settings = settings_for(data_dir)
    try:
        if file.stat().st_size > MAX_BYTES:
            raise fail(rejected_text(lang, StaffFileRejected("too_big")), 2)
        data = file.read_bytes()
    except OSError as exc:
        raise fail(f"{file}: {exc.strerror}", 2) from exc
    def step(done: int, total: int) -> None:
        typer.echo("\r" + gettext("staff.cli.progress", lang, done=done, total=total), err=True,
                   nl=done == total)

    async def go(i: Installation) -> list[str]:
        o = await organisation_by_slug(i.services, org)
        if not apply:
            seen = await staff_import.preview(i.services, None, data, org=o)
            return [gettext("staff.cli.preview", lang, encoding=seen.encoding, n=seen.importable,
                            bad=len(seen.problems)), *(problem_text(lang, p) for p in seen.problems)]
        days = max(1, round(i.services.policy.invitation_lifetime.total_seconds() / 86400))
        done = await staff_import.apply(i.services, None, data, step, org=o,
                                        mail=invitation_mail(settings.origin, o.name, days))
        lines = [gettext("staff.done.summary", lang, n=done.created, teams=done.teams_created,
                         mails=done.mails_queued)]
        if done.created and not done.mails_queued:
            lines.append(gettext("staff.done.no_mail", lang))
        return lines + [problem_text(lang, p) for p in done.problems]

    try:
        report = run(go, settings)
    except StaffFileRejected as refused:
        raise fail(rejected_text(lang, refused), 1) from refused
    for line in report:
        typer.echo(line)
