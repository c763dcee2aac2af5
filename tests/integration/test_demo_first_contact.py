"""The first contact: ``chevet demo`` speaks French, names roles in French, and the code command
it prints works exactly as printed, from another folder."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from chevet.core import totp

ENV = {**os.environ, "CHEVET_PASSWORD_TIME_COST": "1", "CHEVET_PASSWORD_MEMORY_KIB": "1024"}


def test_the_demo_speaks_french_and_its_otp_command_works_as_printed(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "chevet.cli.main", "demo", "--data-dir", str(folder),
                           "--port", "8123", "--seed-only"], capture_output=True, text=True, env=ENV, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("Démo Chevet : ouvrez http://localhost:8123")
    assert "Sophie Bernard (Infirmier·e)" in out and "(Aide-soignant·e)" in out and "(Médecin)" in out
    assert "mot de passe :" in out and "secret TOTP :" in out and "Connectez-vous" in out
    # The EHPAD's reports reach real people: a director, and the care manager as quality lead.
    assert "Isabelle Fontaine (Directeur·rice)" in out and "Nadia Moreau (Cadre · responsable qualité)" in out
    assert "nurse" not in out and "care_assistant" not in out and "password" not in out  # no code names
    assert "quality_lead" not in out
    assert f"Dossier de la démo : {folder.absolute()}" in out and "--port" in out
    secret = re.search(r"sophie\.bernard@tilleuls\.example  mot de passe : \S+  secret TOTP : ([A-Z2-7]+)", out)
    assert secret is not None
    command = next(line.strip() for line in out.splitlines() if "chevet.cli.otp" in line)
    assert command.endswith(secret.group(1))
    elsewhere = tmp_path / "ailleurs"
    elsewhere.mkdir()
    code = subprocess.run(shlex.split(command), capture_output=True, text=True, cwd=elsewhere, timeout=60, env=ENV)
    assert code.returncode == 0, code.stderr
    assert re.fullmatch(r"\d{6}\n", code.stdout)
    assert totp.verify(secret.group(1), code.stdout.strip(), time.time(), None) is not None
    # A second run reuses the installation and prints the same details.
    again = subprocess.run([sys.executable, "-m", "chevet.cli.main", "demo", "--data-dir", str(folder),
                            "--port", "8123", "--seed-only"], capture_output=True, text=True, env=ENV, timeout=120)
    assert again.returncode == 0 and secret.group(0) in again.stdout
