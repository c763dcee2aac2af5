"""A private OpenLDAP server for the directory synchronisation tests.

Started once per test session on a free port, with its own slapd.conf and MDB database in a
temporary directory, loaded with ou=people and ou=groups; stopped at the end. In CI the server
must run (``.ci/setup-ldap`` installs slapd); elsewhere, without slapd, the tests are skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ldap3
import pytest

SUFFIX = "dc=ehpad-tilleuls,dc=fr"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "secret-de-test"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"

# (uid, full name, given name, surname, mail, groups)
STAFF = [
    ("aline", "Aline Martin", "Aline", "Martin", "aline.martin@tilleuls.fr", ["infirmieres", "equipe-nuit"]),
    ("bruno", "Bruno Petit", "Bruno", "Petit", "bruno.petit@tilleuls.fr", ["aides-soignants", "equipe-jour"]),
    ("chloe", "Chloé Durand", "Chloé", "Durand", "chloe.durand@tilleuls.fr", ["aides-soignants", "equipe-jour"]),
    ("david", "David Bernard", "David", "Bernard", "david.bernard@tilleuls.fr", ["medecins"]),
    ("emma", "Emma Leroy", "Emma", "Leroy", "emma.leroy@tilleuls.fr", ["aides-soignants", "equipe-nuit"]),
]
GROUP_NAMES = ["infirmieres", "aides-soignants", "medecins", "equipe-jour", "equipe-nuit"]


def _slapd() -> str | None:
    for candidate in (shutil.which("slapd"), "/usr/sbin/slapd"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def person_dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE}"


def group_dn(name: str) -> str:
    return f"cn={name},{GROUPS}"


def _ldif() -> str:
    blocks = [f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\n"
              "o: EHPAD Les Tilleuls\ndc: ehpad-tilleuls",
              f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people",
              f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups"]
    for uid, cn, given, sn, mail, _ in STAFF:
        blocks.append(f"dn: {person_dn(uid)}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {cn}\ndisplayName: {cn}\n"
                      f"givenName: {given}\nsn: {sn}\nmail: {mail}")
    for g in GROUP_NAMES:
        members = [person_dn(uid) for uid, *_rest, groups in STAFF if g in groups] or [ADMIN_DN]
        blocks.append(f"dn: {group_dn(g)}\nobjectClass: groupOfNames\ncn: {g}\n"
                      + "\n".join(f"member: {m}" for m in members))
    return "\n\n".join(blocks) + "\n"


@dataclass
class Slapd:
    url: str
    directory: Path
    process: subprocess.Popen[bytes]

    def admin(self) -> ldap3.Connection:
        return ldap3.Connection(ldap3.Server(self.url), ADMIN_DN, ADMIN_PASSWORD, auto_bind=True, raise_exceptions=True)

    def reset(self) -> None:
        """Back to the loaded staff: everyone present, in their original groups."""
        conn = self.admin()
        try:
            for uid, cn, given, sn, mail, _ in STAFF:
                if not _exists(conn, person_dn(uid)):
                    conn.add(person_dn(uid), ["inetOrgPerson"], {"uid": uid, "cn": cn, "displayName": cn,
                                                                 "givenName": given, "sn": sn, "mail": mail})
            for g in GROUP_NAMES:
                members = [person_dn(uid) for uid, *_rest, groups in STAFF if g in groups] or [ADMIN_DN]
                conn.modify(group_dn(g), {"member": [(ldap3.MODIFY_REPLACE, members)]})
        finally:
            conn.unbind()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _exists(conn: ldap3.Connection, dn: str) -> bool:
    try:
        return bool(conn.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=[]))
    except ldap3.core.exceptions.LDAPNoSuchObjectResult:
        return False


def start_slapd() -> Slapd:
    binary = _slapd()
    if binary is None:
        if os.environ.get("CI") == "true":
            raise RuntimeError("slapd is missing: run .ci/setup-ldap")
        pytest.skip("slapd is not installed (.ci/setup-ldap)")
    base = Path(tempfile.mkdtemp(prefix="chevet-slapd-"))
    (base / "db").mkdir()
    hashed = subprocess.run(["slappasswd", "-s", ADMIN_PASSWORD], check=True, capture_output=True,
                            text=True).stdout.strip()
    modules = "/usr/lib/ldap"
    (base / "slapd.conf").write_text(
        "include /etc/ldap/schema/core.schema\n"
        "include /etc/ldap/schema/cosine.schema\n"
        "include /etc/ldap/schema/inetorgperson.schema\n"
        f"modulepath {modules}\nmoduleload back_mdb\n"
        f"pidfile {base}/slapd.pid\n"
        "database mdb\n"
        f"suffix \"{SUFFIX}\"\nrootdn \"{ADMIN_DN}\"\nrootpw {hashed}\n"
        f"directory {base}/db\nmaxsize 10485760\n"
        "index objectClass eq\n"
    )
    (base / "staff.ldif").write_text(_ldif())
    subprocess.run(["slapadd", "-f", str(base / "slapd.conf"), "-l", str(base / "staff.ldif")],
                   check=True, capture_output=True)
    port = _free_port()
    url = f"ldap://127.0.0.1:{port}"
    process = subprocess.Popen([binary, "-d", "0", "-f", str(base / "slapd.conf"), "-h", url],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("slapd did not start") from None
            time.sleep(0.1)
    return Slapd(url, base, process)


@pytest.fixture(scope="session")
def slapd() -> Iterator[Slapd]:
    server = start_slapd()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)


@pytest.fixture
def directory(slapd: Slapd) -> Iterator[Slapd]:
    slapd.reset()
    yield slapd
