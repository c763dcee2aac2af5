"""The `chevet` command as an operator uses it, in fresh data directories."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from chevet.core import totp
from tests.support import free_port, wait_healthy

ENV = {**os.environ, "CHEVET_PASSWORD_TIME_COST": "1", "CHEVET_PASSWORD_MEMORY_KIB": "1024"}


def chevet(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chevet.cli.main", *args], input=stdin, capture_output=True,
                          text=True, env=ENV, timeout=120)


def test_init_org_user_add_and_invite(tmp_path: Path) -> None:
    data = str(tmp_path / "inst")
    r = chevet("init", "--data-dir", data)
    assert r.returncode == 0, r.stderr
    key = Path(data) / "keys" / "master.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = key.read_bytes()
    assert chevet("init", "--data-dir", data).returncode == 0 and key.read_bytes() == before  # never replaced

    r = chevet("org", "create", "--slug", "ehpad-a", "--name", "EHPAD A", "--data-dir", data, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["slug"] == "ehpad-a"
    r = chevet("org", "create", "--slug", "ehpad-a", "--name", "EHPAD A bis", "--data-dir", data)
    assert r.returncode == 1 and "already exists" in r.stderr

    r = chevet("user", "add", "--org", "ehpad-a", "--email", "ide@a.example", "--name", "Infirmière A",
               "--role", "nurse", "--password-stdin", "--json", "--data-dir", data, stdin="mot-de-passe-long\n")
    assert r.returncode == 0, r.stderr
    added = json.loads(r.stdout)
    assert set(added) == {"id", "totp_secret"} and len(totp.code_at(added["totp_secret"], 1)) == 6
    for bad_role in ("wizard",):
        r = chevet("user", "add", "--org", "ehpad-a", "--email", "x@a.example", "--name", "X", "--role", bad_role,
                   "--password-stdin", "--data-dir", data, stdin="mot-de-passe-long\n")
        assert r.returncode == 1 and "Unknown role" in r.stderr
    r = chevet("user", "add", "--org", "nowhere", "--email", "y@a.example", "--name", "Y", "--role", "nurse",
               "--password-stdin", "--data-dir", data, stdin="mot-de-passe-long\n")
    assert r.returncode == 1 and "Organisation not found" in r.stderr

    r = chevet("user", "invite", "--org", "ehpad-a", "--email", "med@a.example", "--name", "Dr B",
               "--role", "physician", "--data-dir", data, "--json")
    assert r.returncode == 0 and "/invitation/" in json.loads(r.stdout)["url"]
    r = chevet("audit", "verify", "--data-dir", data)
    assert r.returncode == 0 and "BROKEN" not in r.stdout


def test_invalid_settings_are_explained(tmp_path: Path) -> None:
    data = tmp_path / "inst"
    data.mkdir()
    (data / "chevet.toml").write_text("port = 'quatre-vingts'\n")
    r = chevet("migrate", "--data-dir", str(data))
    assert r.returncode == 2 and "port" in r.stderr and "Traceback" not in r.stderr
    r = chevet("audit", "verify", "--data-dir", str(tmp_path / "empty"))
    assert r.returncode == 2 and "chevet init" in r.stderr


def test_demo_prints_one_json_line_then_serves(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "chevet.cli.main", "demo", "--data-dir", str(tmp_path / "demo"),
                             "--port", str(port), "--json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=ENV, text=True)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        # Passkeys need a secure context whose host is a domain: localhost, not 127.0.0.1.
        assert info["url"] == f"http://localhost:{port}" and next(iter(info)) == "url"
        ehpad, ssiad = info["organisations"]
        roles = sorted(u["role"] for u in ehpad["users"])
        for needed in ("admin", "physician", "nurse", "care_assistant", "dpo"):
            assert needed in roles
        assert roles.count("nurse") >= 2 and len(ssiad["users"]) == 2
        nurse = next(u for u in ehpad["users"] if u["role"] == "nurse")
        assert set(nurse) >= {"email", "password", "totp_secret", "role"}
        wait_healthy(info["url"], proc)
        code = totp.code_at(nurse["totp_secret"], totp.step_of(time.time()))
        r = httpx.post(f"{info['url']}/api/v1/auth/login",
                       json={"email": nurse["email"], "password": nurse["password"], "otp": code})
        assert r.status_code == 200, r.text
        assert r.json()["user"]["organisation"]["slug"] == ehpad["slug"]
        r = httpx.post(f"{info['url']}/api/v1/auth/passkey/login/options")
        assert r.status_code == 200 and r.json()["options"]["rpId"] == "localhost"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)


def test_serve_refuses_a_missing_key_or_schema(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "chevet.cli.main", "serve", "--data-dir", str(tmp_path / "none"),
                        "--port", str(free_port())], capture_output=True, text=True, env=ENV, timeout=60)
    assert r.returncode == 2 and "chevet init" in r.stderr
    data = tmp_path / "inst"
    assert chevet("init", "--data-dir", str(data)).returncode == 0
    (data / "chevet.db").unlink()
    r = subprocess.run([sys.executable, "-m", "chevet.cli.main", "serve", "--data-dir", str(data),
                        "--port", str(free_port())], capture_output=True, text=True, env=ENV, timeout=60)
    assert r.returncode == 2 and "chevet migrate" in r.stderr


def test_reenrol_issues_a_new_link_for_an_existing_person(tmp_path: Path) -> None:
    data = str(tmp_path / "inst")
    assert chevet("init", "--data-dir", data).returncode == 0
    assert chevet("org", "create", "--slug", "ehpad-r", "--name", "EHPAD R", "--data-dir", data).returncode == 0
    r = chevet("user", "add", "--org", "ehpad-r", "--email", "ide@r.example", "--name", "IDE R", "--role", "nurse",
               "--password-stdin", "--data-dir", data, stdin="mot-de-passe-long\n")
    assert r.returncode == 0, r.stderr
    assert chevet("user", "invite", "--org", "ehpad-r", "--email", "ide@r.example", "--name", "IDE R",
                  "--role", "nurse", "--data-dir", data).returncode == 1  # she exists: invite refuses
    r = chevet("user", "reenrol", "--org", "ehpad-r", "--email", "ide@r.example", "--json", "--data-dir", data)
    assert r.returncode == 0, r.stderr
    assert "/invitation/" in json.loads(r.stdout)["url"]
    r = chevet("user", "reenrol", "--org", "ehpad-r", "--email", "nobody@r.example", "--data-dir", data)
    assert r.returncode == 1 and "Person not found" in r.stderr
