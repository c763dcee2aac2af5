"""The health directory: import of a full-size generated extraction and of a corpus of broken
lines through ``chevet directory import``, and search over HTTP without any external call."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from chevet.app.mssante import directory
from chevet.bootstrap import Installation
from chevet.core.errors import InvalidInput
from chevet.core.mssante.directory import split_lines
from tests.mss_directory_data import generate, header, line
from tests.support import Server, login, new_member, new_org

FULL_SIZE = 200_000


def _cli(installation: Installation, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHEVET_PASSWORD_TIME_COST": "1", "CHEVET_PASSWORD_MEMORY_KIB": "1024"}
    if installation.settings.database.url:
        env["CHEVET_DATABASE_URL"] = installation.settings.database.url
    return subprocess.run([sys.executable, "-m", "chevet.cli.main", "directory", *args, "--data-dir",
                           str(installation.settings.data_dir)], env=env, capture_output=True, text=True, timeout=900)


def _counts(stdout: str) -> dict[str, int]:
    out = {}
    for row in stdout.splitlines():
        if ":" in row and not row.startswith(" "):
            k, v = row.split(":", 1)
            out[k.strip()] = int(v)
    return out


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_full_size_extraction_then_search_over_http(installation: Installation, tmp_path: Path) -> None:
    data = generate(FULL_SIZE)
    archive = tmp_path / "Extraction_Correspondance_MSSante_202611280400.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("Extraction_Correspondance_MSSante_202611280400.txt", data)
    done = _cli(installation, "import", str(archive))
    assert done.returncode == 0, done.stderr
    counts = _counts(done.stdout)
    duplicates = FULL_SIZE // 1000
    assert counts == {"imported": FULL_SIZE - duplicates, "duplicates merged": duplicates, "rejected": 0}
    assert "lines read" in done.stderr

    svc = installation.services
    org = await new_org(svc)
    nurse = await new_member(svc, org, "nurse")
    server = Server(installation.settings)
    try:
        token = login(server.url, nurse)
        auth = {"Authorization": f"Bearer {token}"}
        r = httpx.get(f"{server.url}/api/v1/directory", params={"q": "Lefèvre hélène"}, headers=auth)
        assert r.status_code == 200, r.text
        hits = r.json()
        assert hits and all(h["last_name"] == "LEFÈVRE" and h["first_name"] == "Hélène" for h in hits)
        r = httpx.get(f"{server.url}/api/v1/directory", params={"q": "secretariat brest", "type": "ORG"}, headers=auth)
        assert r.json() and all(h["mailbox_type"] == "ORG" and h["town"] == "BREST" for h in r.json())
        assert httpx.get(f"{server.url}/api/v1/directory", params={"q": "ch brest"}).status_code == 401
        r = httpx.get(f"{server.url}/api/v1/directory", params={"q": "   "}, headers=auth)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        status = httpx.get(f"{server.url}/api/v1/directory/status", headers=auth).json()
        assert status["imported"] == FULL_SIZE - duplicates
    finally:
        server.stop()


async def test_broken_lines_are_counted_and_the_old_directory_survives_a_bad_file(installation: Installation,
                                                                                  tmp_path: Path) -> None:
    import random

    rnd = random.Random(3)
    good = [line(i, rnd) for i in range(40)]
    broken = [
        "PER|pas-une-adresse" + "|x" * 29,             # address
        "ZZZ|a@b.mssante.fr" + "|" * 29,              # mailbox type
        "PER|a@b.fr|trop court",                        # column count
        good[3][:-6] + "\x01" + good[3][-6:],          # control character
    ]
    text = "\ufeff" + header() + "\r\n" + "\n".join(good[:20]) + "\r" + "\r\n".join(broken) + "\n" + \
        "\n".join([*good[20:], good[5]]) + "\n"
    source = tmp_path / "extraction.txt"
    source.write_bytes(text.encode() + b"PER|\xff\xfe|" + b"|" * 29 + b"\n")
    done = _cli(installation, "import", str(source))
    assert done.returncode == 0, done.stderr
    assert _counts(done.stdout) == {"imported": 40, "duplicates merged": 1, "rejected": 5}
    assert "mailbox address invalid" in done.stdout and "wrong number of columns" in done.stdout

    svc = installation.services
    before = await directory.status(svc)
    bad = tmp_path / "bad.txt"
    bad.write_text(header() + "\nPER|nope\n")
    refused = _cli(installation, "import", str(bad))
    assert refused.returncode == 1 and "no valid line" in refused.stderr
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("nom;prenom\n")
    assert _cli(installation, "import", str(wrong)).returncode == 1
    assert await directory.status(svc) == before
    with pytest.raises(InvalidInput):
        await directory.search(svc, None, "a")
    found = await directory.search(svc, None, good[1].split("|")[1].split("@")[0].split(".")[0])
    assert found


async def test_reimport_replaces_the_directory(installation: Installation) -> None:
    svc = installation.services
    first = (header() + "\n" + "PER|old.address@x.mssante.fr" + "|" * 7 + "|M|VIEUX|Jean" + "|" * 20 + "\n").encode()
    await directory.import_extraction(svc, split_lines([first]), "one")
    assert [e["address"] for e in await directory.search(svc, None, "vieux")] == ["old.address@x.mssante.fr"]
    second = (header() + "\n" + "ORG|new@x.mssante.fr" + "|" * 16 + "|CHU NOUVEAU" + "|" * 12 + "\n").encode()
    report = await directory.import_extraction(svc, split_lines([second]), "two")
    assert report.imported == 1
    assert await directory.search(svc, None, "vieux") == []
    assert [e["structure"] for e in await directory.search(svc, None, "nouveau chu")] == ["CHU NOUVEAU"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_daily_refresh_reads_the_configured_location(installation: Installation, tmp_path: Path) -> None:
    """The refresh job imports from where the administrator said (here a local zip), and from
    nowhere when nothing is configured."""
    import random

    from chevet.bootstrap.mssante import load_gateway
    from chevet.jobs import mssante as jobs

    rnd = random.Random(5)
    archive = tmp_path / "annuaire.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("Extraction_Correspondance_MSSante_202611280400.txt",
                   "\n".join([header(), *(line(i, rnd) for i in range(1, 30))]) + "\n")
    from tests.mss_pki import TestCA

    (tmp_path / "ca.pem").write_bytes(TestCA().pem())
    config = tmp_path / "mssante.toml"
    base = f'nil = "N"\n[operator]\nsmtp_host = "127.0.0.1"\ntrust_anchor = "{tmp_path / "ca.pem"}"\n'
    config.write_text(base)
    runtime = load_gateway(installation.settings, config)
    assert runtime is not None and await jobs.refresh_directory(installation, runtime) is None
    config.write_text(f'directory_source = "{archive}"\n' + base)
    runtime = load_gateway(installation.settings, config)
    assert runtime is not None
    report = await jobs.refresh_directory(installation, runtime)
    assert report is not None and report.imported == 29
    assert (await directory.status(installation.services))["source"] == str(archive)
