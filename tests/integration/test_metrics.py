"""The operator's metrics (docs/metrics.md), scraped from a real ``chevet serve`` after a short load
(sends, a read, a live stream), on SQLite and PostgreSQL.

What is checked, and against what:
- the exposition is valid Prometheus text: Prometheus' own ``promtool check metrics`` reads it
  (the text format of the Prometheus exposition formats document, "Text-based format");
- values move with the load: one live connection, the sends' batches add up to the sends, one
  delivery per live message, request counts by route *template*, outbox depth/age/dead letters
  from the rows in the database, the alerts job's last success, pool figures, key provider state;
- the endpoint is off the public listener or behind a token: 404 when not configured, 401
  without the token (RFC 6750 §3: ``WWW-Authenticate: Bearer``), never a metric in that answer;
  a token file readable by others is refused;
- nothing that names an organisation, a person, a conversation or content appears;
- the example alert rules pass ``promtool check rules`` and the dashboard only names metrics the
  server exports;
- two server processes on one database are each scraped on their own listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import websockets

from chevet.adapters.db.database import SqlDatabase
from chevet.adapters.metrics import PrometheusMetrics
from chevet.app.identity.organisation_keys import OrganisationKeyring
from chevet.bootstrap import Installation, metrics_from, metrics_token
from chevet.core.mail_outbox import MailState, OutgoingMail
from chevet.ports.organisation_keys import OrganisationKeyUnavailable
from chevet.settings import SettingsError
from tests.support import IN_CI, Server, free_port, login, make_settings, new_installation, new_member, new_org
from tests.unit.test_organisation_keyring import Flaky

DOCS = Path(__file__).resolve().parents[2] / "docs"
SEND_ROUTE = "/api/v1/conversations/{conversation_id}/messages"


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if IN_CI:
            pytest.fail("promtool (Debian package prometheus, .ci/setup-metrics) is required in CI")
        pytest.skip("promtool not installed (.ci/setup-metrics)")
    return found


def _token_file(tmp_path: Path, mode: int = 0o600) -> tuple[Path, str]:
    token = secrets.token_hex(32)
    path = tmp_path / "metrics.token"
    path.write_text(token + "\n")
    path.chmod(mode)
    return path, token


def _samples(text: str) -> dict[str, float]:
    """``name{labels}`` → value, as a plain reader of the text format sees each sample line."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def _value(samples: dict[str, float], name: str, **labels: str) -> float:
    want = [f'{k}="{v}"' for k, v in labels.items()]
    found = [v for k, v in samples.items()
             if (k == name or k.startswith(name + "{")) and all(w in k for w in want)]
    assert len(found) == 1, (name, labels, [k for k in samples if k.startswith(name)])
    return found[0]


def _scrape(port: int) -> str:
    r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return r.text


async def _queue_mail(installation: Installation, org_id: uuid.UUID, subject: uuid.UUID, recipient: str) -> None:
    """One invitation waiting for an hour, one given up: what a relay outage leaves behind."""
    now = datetime.now(UTC)
    async with installation.services.db.transaction() as tx:
        for state in (MailState.PENDING, MailState.DEAD):
            await tx.mail_outbox.add(OutgoingMail(
                id=uuid.uuid4(), org_id=org_id, kind="invitation", subject_id=subject, recipient=recipient,
                message_sealed=b"\x00" * 16, state=state, attempts=8 if state is MailState.DEAD else 1,
                next_attempt_at=now + timedelta(days=1), created_at=now - timedelta(hours=1)))


async def test_a_scrape_after_some_load_says_what_happened_and_nothing_about_anyone(
        installation: Installation, tmp_path: Path) -> None:
    promtool = _promtool()
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse", name="Odile Marchand")
    doctor = await new_member(svc, org, "physician", name="Bertrand Lenoir")
    await _queue_mail(installation, org.id, nurse.id, nurse.email)
    token_path, token = _token_file(tmp_path)
    listen = free_port()
    server = Server(installation.settings, env={"CHEVET_METRICS__ENABLED": "true",
                                                "CHEVET_METRICS__LISTEN": f"127.0.0.1:{listen}",
                                                "CHEVET_METRICS__TOKEN_FILE": str(token_path)})
    try:
        nt, dt = login(server.url, nurse), login(server.url, doctor)
        h = {"Authorization": f"Bearer {nt}"}
        conv = httpx.post(f"{server.url}/api/v1/conversations", headers=h,
                          json={"kind": "group", "title": "Chambre 12 Durand",
                                "member_ids": [str(doctor.id)]}).json()["id"]
        bodies = [f"pansement refait chambre 12 n°{i}" for i in range(3)]
        async with websockets.connect(f"{server.ws_url}/api/v1/stream?token={dt}") as ws:
            await asyncio.wait_for(ws.recv(), 10)  # hello
            await ws.send(json.dumps({"type": "resume", "cursors": {}}))
            while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "ready":
                pass
            for i, body in enumerate(bodies):
                r = httpx.post(f"{server.url}/api/v1/conversations/{conv}/messages", headers=h,
                               json={"body": body, "client_id": f"c{i}"})
                assert r.status_code == 201, r.text
                assert json.loads(await asyncio.wait_for(ws.recv(), 10))["message"]["body"] == body
            httpx.get(f"{server.url}/api/v1/conversations/{conv}/messages",
                      headers={"Authorization": f"Bearer {dt}"}).raise_for_status()
            text = _scrape(listen)

        checked = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True,
                                 timeout=30, check=False)
        assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()

        s = _samples(text)
        assert _value(s, "chevet_realtime_connections") == 1
        assert _value(s, "chevet_http_request_duration_seconds_count",
                      method="POST", route=SEND_ROUTE, status="2xx") == 3
        assert _value(s, "chevet_http_request_duration_seconds_count",
                      method="GET", route=SEND_ROUTE, status="2xx") == 1
        # Batches hold every send once, however the group commit grouped them.
        assert _value(s, "chevet_send_batch_size_sum") == 3
        assert 1 <= _value(s, "chevet_send_batch_size_count") <= 3
        # One live delivery per message to the one stream (its catch-up is not a delivery).
        assert _value(s, "chevet_delivery_lag_seconds_count") == 3
        assert _value(s, "chevet_delivery_lag_seconds_bucket", le="+Inf") == 3
        assert _value(s, "chevet_metrics_database_up") == 1
        assert _value(s, "chevet_outbox_depth", outbox="mail") == 1
        assert _value(s, "chevet_outbox_oldest_age_seconds", outbox="mail") >= 3500
        assert _value(s, "chevet_outbox_dead_letters", outbox="mail") == 1
        assert _value(s, "chevet_outbox_depth", outbox="mssante") == 0
        assert _value(s, "chevet_outbox_oldest_age_seconds", outbox="mssante") == 0
        assert _value(s, "chevet_job_last_success_timestamp_seconds", job="alerts") > 1.7e9
        database = "postgresql" if installation.settings.database.url else "sqlite"
        assert _value(s, "chevet_db_pool_size", database=database) >= 1
        assert _value(s, "chevet_db_pool_max", database=database) >= _value(s, "chevet_db_pool_size",
                                                                            database=database)
        assert _value(s, "chevet_key_provider_up", provider="file") == 1
        assert _value(s, "chevet_key_provider_organisations_down", provider="file") == 0
        assert _value(s, "process_resident_memory_bytes") > 0

        # Nothing anyone could be found by: no id, name, address, title, content or token.
        for secret in [str(org.id), org.id.hex, org.slug, org.name, str(nurse.id), str(doctor.id), nurse.email,
                       "Odile", "Marchand", "Lenoir", conv, "Chambre 12", "Durand", "pansement", nt, dt, token]:
            assert secret not in text, secret

        # The main listener: the same metrics to the token, a refusal in words to anyone else.
        for headers in ({}, {"Authorization": "Bearer " + "0" * 64}, {"Authorization": token}):
            r = httpx.get(f"{server.url}/metrics", headers=headers)
            assert r.status_code == 401
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == "metrics_token_required"
            assert "chevet_" not in r.text
        r = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert "chevet_realtime_connections 0.0" in r.text
        # The listener of its own answers /metrics only, and a head that never ends is cut off
        # at 8 KiB without stopping it.
        assert httpx.get(f"http://127.0.0.1:{listen}/").status_code == 404
        assert httpx.post(f"http://127.0.0.1:{listen}/metrics").status_code == 405
        reader, writer = await asyncio.open_connection("127.0.0.1", listen)
        writer.write(b"GET /metrics HTTP/1.1\r\nX-Long: " + b"a" * 20000)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        try:
            answer = await asyncio.wait_for(reader.read(), 10)
        except ConnectionResetError:  # closed with the rest of the head unread: a reset
            answer = b""
        assert answer == b""
        writer.close()
        assert "chevet_build_info" in _scrape(listen)
    finally:
        server.stop()


async def test_no_endpoint_unless_configured(tmp_path: Path) -> None:
    """Metrics off (the default): ``/metrics`` is not a route of the main listener. (With a
    listener of its own and no token, neither: see the two-process test.)"""
    installation = await new_installation(tmp_path / "data", None)
    await installation.close()
    server = Server(installation.settings)
    try:
        r = httpx.get(f"{server.url}/metrics")
        assert r.status_code == 404
        assert "chevet_" not in r.text
    finally:
        server.stop()


def test_a_token_file_others_may_read_is_refused(tmp_path: Path) -> None:
    path, _ = _token_file(tmp_path, 0o644)
    settings = make_settings(tmp_path / "data", None, metrics__enabled=True, metrics__token_file=str(path))
    with pytest.raises(SettingsError, match="readable by its owner only"):
        metrics_token(settings)
    path.write_text("short\n")
    path.chmod(0o600)
    with pytest.raises(SettingsError, match="characters or more"):
        metrics_token(settings)


async def test_alert_rules_pass_promtool_and_the_dashboard_names_only_exported_metrics(
        installation: Installation) -> None:
    promtool = _promtool()
    rules = DOCS / "prometheus" / "chevet-alerts.yml"
    checked = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, timeout=30, check=False)
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    # promtool's own unit tests of the rules: each alert fires on the series that should fire it.
    tested = subprocess.run([promtool, "test", "rules", str(DOCS / "prometheus" / "chevet-alerts.test.yml")],
                            capture_output=True, timeout=60, check=False)
    assert tested.returncode == 0, tested.stdout.decode() + tested.stderr.decode()

    dashboard = json.loads((DOCS / "grafana" / "chevet.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert exprs
    pattern = r"\b((?:chevet|process)_[a-z_]+)\b"
    named = {m for e in exprs for m in re.findall(pattern, e)} | set(re.findall(pattern, rules.read_text()))
    exported = await _exported_names(installation)
    assert named and named <= exported, named - exported


async def _exported_names(installation: Installation) -> set[str]:
    """Every series name the server's metrics expose, read from their exposition's TYPE lines
    (a histogram as its _bucket, _sum and _count series)."""
    settings = installation.settings.replace(metrics__enabled=True)
    text = (await metrics_from(settings, installation.services).exposition()).decode()
    names: set[str] = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        names |= {f"{name}_{s}" for s in ("bucket", "sum", "count")} if kind == "histogram" else {name}
    return names


async def test_two_processes_on_one_database_are_each_scraped_on_their_own_listener(
        installation: Installation) -> None:
    """docs/metrics.md, "Several server processes": one listener per process; a connection
    counts where it is held; what is read from the database is the same in both."""
    if not installation.settings.database.url:
        pytest.skip("several server processes share PostgreSQL (docs/deployment.md)")
    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    ports = [free_port(), free_port()]
    servers = [Server(installation.settings, env={"CHEVET_METRICS__ENABLED": "true",
                                                  "CHEVET_METRICS__LISTEN": f"127.0.0.1:{p}"}) for p in ports]
    try:
        token = login(servers[0].url, nurse)
        async with websockets.connect(f"{servers[0].ws_url}/api/v1/stream?token={token}") as ws:
            await asyncio.wait_for(ws.recv(), 10)  # hello
            first, second = (_samples(_scrape(p)) for p in ports)
        assert _value(first, "chevet_realtime_connections") == 1
        assert _value(second, "chevet_realtime_connections") == 0
        assert _value(first, "chevet_outbox_depth", outbox="mail") == _value(second, "chevet_outbox_depth",
                                                                             outbox="mail")
        # A listener of its own and no token: nothing on the main listener.
        assert httpx.get(f"{servers[1].url}/metrics").status_code == 404
    finally:
        for srv in servers:
            srv.stop()


async def test_a_key_provider_that_fails_is_shown_down_by_count_then_up_again(installation: Installation) -> None:
    """The keyring's view of its providers, as the metrics show it: how many organisations'
    last call failed, never which; up again after the next successful call."""
    svc = installation.services
    org = await new_org(svc)
    flaky = Flaky()
    ring = OrganisationKeyring(svc.db, svc.keys, svc.clock, {"file": svc.key_providers["file"], "flaky": flaky},
                               unavailable_seconds=0)
    async with svc.db.transaction() as tx:
        await ring.create_version(tx, org.id, 1, "flaky", "t", "current")
    assert isinstance(svc.db, SqlDatabase)
    metrics = PrometheusMetrics(svc.db, version="test", providers=ring.providers, providers_down=ring.providers_down)
    with pytest.raises(OrganisationKeyUnavailable):
        await ring.wrap(org.id, b"k" * 32, b"a")
    down = (await metrics.exposition()).decode()
    s = _samples(down)
    assert _value(s, "chevet_key_provider_up", provider="flaky") == 0
    assert _value(s, "chevet_key_provider_organisations_down", provider="flaky") == 1
    assert _value(s, "chevet_key_provider_up", provider="file") == 1
    assert str(org.id) not in down and org.slug not in down
    flaky.down = False
    await ring.wrap(org.id, b"k" * 32, b"a")
    s = _samples((await metrics.exposition()).decode())
    assert _value(s, "chevet_key_provider_up", provider="flaky") == 1
    assert _value(s, "chevet_key_provider_organisations_down", provider="flaky") == 0


def test_route_labels_are_templates_never_paths() -> None:
    """A route of a router included under /api/v1 gets its whole template; a path that matched no
    route is ``unmatched``; what the request's path holds (ids, codes) never becomes a label."""
    from fastapi.routing import APIRoute

    from chevet.web.metrics import RouteTemplates

    async def endpoint() -> None:
        return None

    included = APIRoute("/conversations/{conversation_id}/messages", endpoint)
    templates = RouteTemplates([], ["/api/v1"])
    cid = str(uuid.uuid4())
    assert templates({"route": included, "path": f"/api/v1/conversations/{cid}/messages"}) == \
        "/api/v1/conversations/{conversation_id}/messages"
    page = APIRoute("/invitations/{token}", endpoint)
    assert templates({"route": page, "path": "/invitations/s3cr3t-code"}) == "/invitations/{token}"
    assert templates({"path": f"/api/v1/nothing/{cid}"}) == "unmatched"
