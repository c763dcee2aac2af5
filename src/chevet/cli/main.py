"""The ``chevet`` command: install, serve, administer. Every command takes ``--data-dir`` so
that several installations can live side by side."""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from chevet.app.identity import mail_outbox, organisations, people
from chevet.app.identity.invitation_mail import KIND
from chevet.bootstrap import Installation, initialise, migrate
from chevet.cli.support import DataDir, run, settings_for
from chevet.core.mail_outbox import MailState
from chevet.settings import Settings, SettingsError
from chevet.web.i18n import gettext
from chevet.web.invitation_mail import invitation_link, invitation_mail

app = typer.Typer(help="Chevet: sovereign secure messaging for care teams.", no_args_is_help=True,
                  add_completion=False)
org_app = typer.Typer(help="Organisations.", no_args_is_help=True)
user_app = typer.Typer(help="People.", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")



_settings = settings_for
_run = run


def _print_enrolment(settings: Settings, issued: people.NewInvitation, as_json: bool, what: str,
                     mailed: str | None = None) -> None:
    """``mailed``: "sent", "queued", "not_configured" (the invitation's e-mail), or None."""
    link = invitation_link(settings.origin, issued.token)
    if as_json:
        extra = {} if mailed is None else {"mailed": mailed == "sent", "mail": mailed}
        typer.echo(json.dumps({"id": str(issued.person.id), "token": issued.token, "url": link, **extra}))
        return
    typer.echo(f"{what} for {issued.person.email}: {link}")
    if mailed == "sent":
        typer.echo(f"e-mail sent to {issued.person.email} through the mail relay")
    elif mailed == "queued":
        typer.echo(f"e-mail to {issued.person.email} queued: it leaves when the server runs (chevet serve); "
                   "--send-now sends it at once")
    elif mailed is not None:
        typer.echo(gettext("mail_relay_not_configured", "en"))


@app.command()
def init(data_dir: DataDir = None) -> None:
    """Create the installation: folder, master key (0600), settings file, database schema."""
    settings = _settings(data_dir)
    for line in asyncio.run(initialise(settings)):
        typer.echo(line)


@app.command("migrate")
def migrate_cmd(data_dir: DataDir = None) -> None:
    """Bring the database schema up to date."""
    settings = _settings(data_dir)
    asyncio.run(migrate(settings))
    typer.echo("database schema is up to date")


@app.command()
def serve(data_dir: DataDir = None, host: Annotated[str | None, typer.Option()] = None,
          port: Annotated[int | None, typer.Option()] = None) -> None:
    """Serve the web client, the API and the realtime stream."""
    settings = _settings(data_dir, server__host=host, server__port=port)
    from chevet.web.server import run

    try:
        run(settings)
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@org_app.command("create")
def org_create(slug: Annotated[str, typer.Option(help="Short identifier, e.g. ehpad-les-tilleuls")],
               name: Annotated[str, typer.Option(help="Display name")],
               data_dir: DataDir = None,
               as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Create an organisation."""
    org = _run(lambda i: organisations.create_organisation(i.services, slug, name), _settings(data_dir))
    typer.echo(json.dumps({"id": str(org.id), "slug": org.slug, "name": org.name}) if as_json
               else f"created organisation {org.slug} ({org.id})")


@user_app.command("add")
def user_add(org: Annotated[str, typer.Option(help="Organisation slug")],
             email: Annotated[str, typer.Option()], name: Annotated[str, typer.Option()],
             role: Annotated[str, typer.Option(help="admin, dpo, director, manager, physician, nurse, care_assistant, "
                                                    "social_worker or external")],
             password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                          help="Read the password from standard input")] = False,
             rpps: Annotated[str | None, typer.Option(help="RPPS or ADELI number")] = None,
             data_dir: DataDir = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Add an active person with a password and a TOTP secret (printed once)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def go(i: Installation) -> people.NewPerson:
        o = await organisations.organisation_by_slug(i.services, org)
        return await people.add_person(i.services, o, email=email, name=name, role=role, password=password,
                                       rpps=rpps)

    added = _run(go, _settings(data_dir))
    if as_json:
        typer.echo(json.dumps({"id": str(added.person.id), "totp_secret": added.totp_secret}))
    else:
        typer.echo(f"added {added.person.email} ({added.person.role.value}); TOTP secret: {added.totp_secret}")


@user_app.command("reenrol")
def user_reenrol(org: Annotated[str, typer.Option(help="Organisation slug")],
                 email: Annotated[str, typer.Option()], data_dir: DataDir = None,
                 as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """New enrolment link for an existing person (after an import, or a lost phone): their
    current password, second factors and sessions stop working at once."""
    settings = _settings(data_dir)

    async def go(i: Installation) -> people.NewInvitation:
        o = await organisations.organisation_by_slug(i.services, org)
        return await people.reissue_enrolment(i.services, o, None, email)

    _print_enrolment(settings, _run(go, settings), as_json, "new enrolment link")


@user_app.command("invite")
def user_invite(org: Annotated[str, typer.Option(help="Organisation slug")],
                email: Annotated[str, typer.Option()], name: Annotated[str, typer.Option()],
                role: Annotated[str, typer.Option()], rpps: Annotated[str | None, typer.Option()] = None,
                data_dir: DataDir = None, as_json: Annotated[bool, typer.Option("--json")] = False,
                send_now: Annotated[bool, typer.Option("--send-now", help="Send the e-mail now, not from the "
                                                       "server's outbox")] = False) -> None:
    """Invite a person: prints the one-time link to choose a password and enrol TOTP, and queues
    its e-mail when the mail relay is configured ([mail_relay]): the running server sends it,
    with retries; ``--send-now`` tries the outbox at once from here (when no server runs)."""
    settings = _settings(data_dir)

    async def go(i: Installation) -> tuple[people.NewInvitation, str]:
        o = await organisations.organisation_by_slug(i.services, org)
        days = max(1, round(i.services.policy.invitation_lifetime.total_seconds() / 86400))
        invited = await people.invite_person(i.services, o, None, email=email, name=name, role=role, rpps=rpps,
                                             mail=invitation_mail(settings.origin, o.name, days))
        if not invited.mail_queued:
            return invited, "not_configured"
        if send_now:
            await mail_outbox.deliver_all_due(i.services)
            state = (await mail_outbox.states(i.services, o.id, KIND, [invited.person.id])).get(invited.person.id)
            return invited, "sent" if state is MailState.SENT else "queued"
        return invited, "queued"

    invited, mailed = _run(go, settings)
    _print_enrolment(settings, invited, as_json, "invitation", mailed)


def _otp_command(secret: str) -> str:
    """The command that prints the current code of a TOTP secret, runnable as printed from any
    folder: the Python that runs this demo, by its absolute path."""
    return f"{shlex.quote(str(Path(sys.executable).absolute()))} -m chevet.cli.otp {secret}"


def _print_demo(info: dict[str, Any], lang: str) -> None:
    """The demo's sign-in details, in the installation's language (French by default)."""
    typer.echo(gettext("cli.demo.title", lang, url=info["url"]) + "\n")
    for org in info["organisations"]:
        typer.echo(f"{org['name']} ({org['slug']})")
        for u in org["users"]:
            also = (" · " + gettext("cli.demo.quality_lead", lang)) if u.get("quality_lead") else ""
            typer.echo(f"  {u.get('name', '')} ({gettext('role.' + u['role'], lang)}{also})\n    "
                       + gettext("cli.demo.credentials", lang, email=u["email"], password=u["password"],
                                 secret=u["totp_secret"]))
    nurse = next((u for o in info["organisations"] for u in o["users"] if u["role"] == "nurse"), None)
    typer.echo("\n" + gettext("cli.demo.sign_in", lang))
    if nurse is not None:
        typer.echo(gettext("cli.demo.otp", lang, email=nurse["email"]) + f"\n  {_otp_command(nurse['totp_secret'])}")
    typer.echo(gettext("cli.demo.folder", lang, folder=str(info["data_dir"])))


@app.command()
def demo(data_dir: DataDir = None, host: Annotated[str, typer.Option()] = "127.0.0.1",
         port: Annotated[int, typer.Option()] = 8000,
         as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line, then serve")] = False,
         seed_only: Annotated[bool, typer.Option("--seed-only", help="Create and print, do not serve")] = False,
         ) -> None:
    """Create (or reuse) a demo installation with two organisations, print how to sign in, serve."""
    from chevet.cli.demo import seed_demo
    from chevet.web.server import run

    settings = _settings(data_dir or Path("chevet-demo"), server__host=host, server__port=port)
    asyncio.run(initialise(settings))
    info = _run(lambda i: seed_demo(i.services, settings), settings)
    # The installation's origin: "localhost" for a loopback address, a secure context where
    # passkeys work (WebAuthn refuses an IP address as relying party), and it resolves to the
    # loopback address the server listens on.
    info = {"url": settings.origin, **info}
    if as_json:
        typer.echo(json.dumps(info, ensure_ascii=False))
    else:
        _print_demo({**info, "data_dir": settings.data_dir.absolute()}, settings.default_language)
    sys.stdout.flush()
    if seed_only:
        return
    try:
        run(settings)
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _add_command_groups() -> None:
    import importlib
    import pkgutil

    import chevet.cli.commands

    for info in sorted(pkgutil.iter_modules(chevet.cli.commands.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"chevet.cli.commands.{info.name}")
        group = getattr(module, "app", None)
        if isinstance(group, typer.Typer):
            parent = {"org": org_app}.get(getattr(module, "PARENT", ""))
            if parent is not None:  # its commands join that group's (``chevet org shred``)
                parent.add_typer(group)
            else:
                app.add_typer(group, name=getattr(module, "NAME", info.name))


_add_command_groups()

if __name__ == "__main__":
    app()
