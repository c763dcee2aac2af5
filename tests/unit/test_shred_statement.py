"""The destruction statement a leaving organisation's DPO receives: French, UTF-8, the Paris
time with its offset, every key named, and a signature that openssl itself accepts."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chevet.core.shred_statement import (
    DestroyedKey,
    ShredStatement,
    Unreadable,
    local,
    public_key_pem,
    signature_valid,
    text,
)
from tests.support import IN_CI

WINTER = datetime(2026, 12, 4, 23, 12, 59, tzinfo=UTC)
SUMMER = datetime(2026, 7, 14, 8, 0, 0, tzinfo=UTC)


def _statement(**overrides: object) -> ShredStatement:
    keys = [DestroyedKey(1, "file", "", "clé version 1, fichier de clé de l'installation", SUMMER, WINTER),
            DestroyedKey(2, "pkcs11", "ehpad-a/chevet-org-x-v2", "objet chevet-org-x-v2 sur le jeton ehpad-a, "
                         "numéro de série 0123456789abcdef", SUMMER, WINTER)]
    values: dict[str, object] = dict(
        org_id=uuid.UUID("12345678-1234-5678-1234-567812345678"), slug="ehpad-les-tilleuls",
        name="EHPAD Les Tilleuls — Saint-Étienne", at=WINTER, keys=keys,
        unreadable=Unreadable(conversations=3, messages=41, reports=2, files=5, data_keys=9, legacy_data_keys=1),
        exported_at=SUMMER, installation="https://chevet.example.fr", audit_key_id="a1b2c3d4e5f60718",
        key_backup_rewritten=True)
    values.update(overrides)
    return ShredStatement(**values)  # type: ignore[arg-type]


def test_paris_time_names_its_offset_in_winter_and_in_summer() -> None:
    assert local(WINTER) == "5 décembre 2026 à 00:12:59, heure de Paris (UTC+01:00)"
    assert local(SUMMER) == "14 juillet 2026 à 10:00:00, heure de Paris (UTC+02:00)"
    with pytest.raises(ValueError):
        local(datetime(2026, 1, 1))  # a naive time is refused


def test_the_statement_names_the_organisation_every_key_and_the_counts() -> None:
    body = text(_statement())
    assert "EHPAD Les Tilleuls — Saint-Étienne" in body and "ehpad-les-tilleuls" in body
    assert "Date de la destruction (UTC) : 2026-12-04T23:12:59Z" in body
    assert "5 décembre 2026 à 00:12:59, heure de Paris (UTC+01:00)" in body
    assert "version 1 : fichier de clés de l'installation" in body
    assert "version 2 : jeton PKCS#11" in body and "ehpad-a/chevet-org-x-v2" in body
    assert "numéro de série 0123456789abcdef" in body
    for line in ("- conversations : 3", "- messages : 41", "- signalements : 2", "- clés de données supprimées : 9"):
        assert line in body
    assert "La sauvegarde des clés configurée a été réécrite" in body
    assert "1 clé(s) de données encore chiffrée(s) par la clé maîtresse" in body
    body.encode("utf-8")


def test_without_export_or_key_backup_the_statement_says_so() -> None:
    body = text(_statement(exported_at=None, key_backup_rewritten=False,
                           unreadable=Unreadable(conversations=1, data_keys=1)))
    assert "AUCUN (destruction demandée sans export)" in body
    assert "Aucune sauvegarde des clés n'est configurée" in body
    assert "encore chiffrée(s) par la clé maîtresse" not in body


def test_a_token_only_organisation_is_not_told_about_the_key_backup() -> None:
    keys = [DestroyedKey(3, "pkcs11", "ehpad-a/l", "objet l", SUMMER, WINTER)]
    body = text(_statement(keys=keys, unreadable=Unreadable(conversations=1, data_keys=1)))
    assert "sauvegarde des clés" not in body
    assert "n'a jamais quitté le jeton" in body


def test_the_signature_covers_every_byte() -> None:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    body = text(_statement())
    signature = key.sign(body.encode("utf-8"))
    assert signature_valid(body, signature, public)
    assert not signature_valid(body.replace("41", "40"), signature, public)
    assert not signature_valid(body, signature, Ed25519PrivateKey.generate().public_key().public_bytes_raw())


def test_openssl_accepts_the_signature_and_refuses_a_changed_statement(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        if IN_CI:
            pytest.fail("openssl is required in CI")
        pytest.skip("openssl not installed")
    key = Ed25519PrivateKey.generate()
    body = text(_statement())
    (tmp_path / "attestation.txt").write_bytes(body.encode("utf-8"))
    (tmp_path / "attestation.sig").write_bytes(key.sign(body.encode("utf-8")))
    (tmp_path / "cle-audit.pem").write_text(public_key_pem(key.public_key().public_bytes_raw()))
    argv = ["openssl", "pkeyutl", "-verify", "-rawin", "-pubin", "-inkey", "cle-audit.pem", "-in", "attestation.txt",
            "-sigfile", "attestation.sig"]
    ok = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0 and "Signature Verified Successfully" in ok.stdout, ok.stderr
    (tmp_path / "attestation.txt").write_bytes(body.replace("41", "14").encode("utf-8"))
    changed = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True)
    assert changed.returncode != 0
