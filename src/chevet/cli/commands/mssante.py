"""``chevet mssante``: check the operator connection, run the gateway, manage the quarantine."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from chevet.bootstrap import Installation, open_installation
from chevet.bootstrap.mssante import GatewayRuntime, load_gateway
from chevet.cli.support import DataDir
from chevet.cli.support import run as _run
from chevet.cli.support import settings_for as _settings
from chevet.core.mssante.delivery import MailError
from chevet.settings import Settings, SettingsError
from chevet.web.i18n import gettext

NAME = "mssante"
PARIS = ZoneInfo("Europe/Paris")
app = typer.Typer(help="The MSSanté gateway (secure health e-mail).", no_args_is_help=True)

EXPLAIN = {
    "operator_unreachable": "the operator's server did not answer: check the host name and port, the firewall, "
                            "and that the operator's service is up",
    "starttls_unavailable": "the server does not offer STARTTLS: Chevet never sends care data in clear text; "
                            "check the port (587 for SMTP, 143 for IMAP)",
    "tls_certificate_untrusted": "the operator's certificate is not signed by the configured trust anchor "
                                 "(IGC-Santé in production), or its name does not match the host name",
    "tls_failed": "the TLS negotiation failed (TLS 1.2 or newer is required)",
    "smtp_authentication": "the operator refused the credentials: check the user name, the password file or "
                           "the client certificate",
    "imap_authentication": "the mailbox refused the credentials: check the user name, the password file or "
                           "the client certificate",
    "imap_folder": "the mailbox folder does not exist",
    "smtp_authentication_unavailable": "the server offers no password authentication on this port: with a "
                                       "client certificate, leave password_file out; otherwise check the port",
    "imap_error": "the IMAP server refused a command (with a client certificate, the server must offer "
                  "SASL EXTERNAL)",
    "smtp_temporary": "the operator answered 'try again later'",
    "smtp_refused": "the operator refused the message",
}


def _runtime(settings: Settings) -> GatewayRuntime:
    try:
        runtime = load_gateway(settings)
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if runtime is None:
        typer.echo("the MSSanté gateway is not configured (no mssante.toml): nothing to do", err=True)
        raise typer.Exit(2)
    return runtime


@app.command()
def check(data_dir: DataDir = None) -> None:
    """Test every mailbox's connections (SMTP submission, IMAP) and explain failures plainly."""
    settings = _settings(data_dir)
    runtime = _runtime(settings)

    async def go() -> bool:
        ok = True
        _revocation_report(runtime)
        ok = _whitelist_report(runtime) and ok
        for box in runtime.settings.mailboxes:
            op = runtime.operator(box.address)
            identity = runtime.gateway.mailbox(box.address).identity
            typer.echo(f"{box.address}:")
            typer.echo("  signature: " + ("organisation certificate loaded, valid until "
                                          f"{identity.certificate.not_valid_after_utc:%Y-%m-%d}"
                                          if identity else "NOT SIGNED (no organisation certificate configured)"))
            try:
                version = await runtime.submitter(box.address).check()
                typer.echo(f"  SMTP {op.smtp_host}:{op.smtp_port}: ok ({version}, authenticated)")
            except MailError as exc:
                ok = False
                typer.echo(f"  SMTP {op.smtp_host}:{op.smtp_port}: FAILED — {EXPLAIN.get(exc.code, exc.code)}"
                           f" [{exc}]")
            imap = runtime.imap(box.address)
            if imap is not None:
                try:
                    count = await imap.check()
                    typer.echo(f"  IMAP {op.imap_host}:{op.imap_port}: ok ({count} messages in {box.imap_folder})")
                except MailError as exc:
                    ok = False
                    typer.echo(f"  IMAP {op.imap_host}:{op.imap_port}: FAILED — {EXPLAIN.get(exc.code, exc.code)}"
                               f" [{exc}]")
        return ok

    raise typer.Exit(0 if asyncio.run(go()) else 1)


def _revocation_report(runtime: GatewayRuntime) -> None:
    """Which trust anchors have a current CRL, in plain words."""
    from datetime import UTC, datetime

    from chevet.core.mssante.revocation import has_current

    policy = runtime.gateway.revocation()
    if not policy.crls:
        typer.echo("revocation: not checked (no CRL configured: crl_files, crl_directory or crl_urls)"
                   + (" — crl_required is set: every signature will be shown untrusted" if policy.required else ""))
        return
    now = datetime.now(UTC)
    missing = [a.subject.rfc4514_string() for a in runtime.gateway.anchors if not has_current(a, policy.crls, now)]
    typer.echo(f"revocation: {len(policy.crls)} CRL(s) loaded"
               + (f"; no current CRL from: {'; '.join(missing)}" if missing else "; current for every trust anchor")
               + (" (signatures through them: untrusted, crl_required is set)" if missing and policy.required else ""))


def _whitelist_report(runtime: GatewayRuntime) -> bool:
    """The listener's list of domains, in plain words; False when the listener would make mail wait."""
    from datetime import UTC, datetime

    from chevet.core.mssante.whitelist import Verdict

    space = runtime.trust_space
    if space is None:
        return True
    current = space.load()
    if current is None:
        typer.echo("liste blanche: NONE imported yet — the listener answers 451 (try later) to every sender; "
                   "run `chevet mssante refresh-whitelist`")
        return False
    generated = current.generated_at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")
    stale = space.verdict(None, datetime.now(UTC)) is Verdict.STALE
    typer.echo(f"liste blanche: {current.size} domains of {current.operators} operators, generated {generated} "
               + ("— OUT OF DATE: the listener answers 451 until it is refreshed" if stale else "(current)"))
    return not stale


@app.command()
def run(data_dir: DataDir = None) -> None:
    """Run the gateway: outbox, mailbox fetching, listener, directory refresh (until stopped)."""
    from chevet import logs
    from chevet.jobs import mssante as jobs

    settings = _settings(data_dir)
    runtime = _runtime(settings)
    if runtime.in_server:
        # Its events would go to this process's memory, where no page listens.
        typer.echo(gettext("mss_gateway_runs_in_serve", settings.default_language), err=True)
        raise typer.Exit(2)
    logs.configure(settings.log_level)

    async def go() -> None:
        installation = open_installation(settings, with_bus=True)
        main = asyncio.current_task()
        assert main is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
        try:
            await jobs.run(installation, runtime)
        except asyncio.CancelledError:
            pass
        finally:
            await installation.close()

    try:
        asyncio.run(go())
    except KeyboardInterrupt:
        pass


@app.command()
def deliver(data_dir: DataDir = None) -> None:
    """One pass of the outbox (the messages due now)."""
    from chevet.jobs import mssante as jobs

    settings = _settings(data_dir)
    runtime = _runtime(settings)
    report = _run(lambda i: jobs.deliver_once(i, runtime), settings)
    typer.echo(f"sent: {report.sent}, to retry: {report.retried}, dead: {report.dead}")


@app.command()
def fetch(data_dir: DataDir = None) -> None:
    """Fetch new mail of every mailbox once."""
    from chevet.jobs import mssante as jobs

    settings = _settings(data_dir)
    runtime = _runtime(settings)

    async def go(i: Installation) -> int:
        total = 0
        for box in runtime.settings.mailboxes:
            total += await jobs.fetch_once(i, runtime, box.address)
        return total

    typer.echo(f"mails read: {_run(go, settings)}")


@app.command("refresh-directory")
def refresh_directory(data_dir: DataDir = None) -> None:
    """Import the directory now from the configured ``directory_source``."""
    from chevet.jobs import mssante as jobs

    settings = _settings(data_dir)
    runtime = _runtime(settings)
    report = _run(lambda i: jobs.refresh_directory(i, runtime), settings)
    if report is None:
        typer.echo("no directory_source configured", err=True)
        raise typer.Exit(2)
    typer.echo(json.dumps(report.as_dict()))



@app.command("refresh-whitelist")
def refresh_whitelist(file: Annotated[Path | None, typer.Option(
        "--file", help="import this XML document instead of fetching the configured source")] = None,
        data_dir: DataDir = None) -> None:
    """Import the trust space's list of domains (liste blanche) the SMTP listener enforces."""
    from chevet.core.mssante.whitelist import WhitelistRefused
    from chevet.jobs import mssante as jobs

    settings = _settings(data_dir)
    runtime = _runtime(settings)
    lang = settings.default_language
    space = runtime.trust_space
    if space is None:
        typer.echo(gettext("mss_whitelist_not_configured", lang), err=True)
        raise typer.Exit(2)
    try:
        if file is not None:
            try:
                data = file.read_bytes()
            except OSError as exc:
                raise WhitelistRefused("source_missing") from exc
            report = space.import_document(data)
        else:
            found = _run(lambda i: jobs.refresh_whitelist(i, runtime), settings)
            assert found is not None
            report = found
    except WhitelistRefused as exc:
        reason = gettext(f"mss_whitelist_reason.{exc.reason}", lang)
        if reason == f"mss_whitelist_reason.{exc.reason}":
            reason = gettext("mss_whitelist_reason.other", lang)
        typer.echo(gettext("mss_whitelist_refused", lang, reason_text=reason), err=True)
        raise typer.Exit(1) from exc
    generated = report.generated_at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")
    typer.echo(gettext("mss_whitelist_imported", lang, domains=report.domains, operators=report.operators,
                       generated=generated))
