"""Generated Annuaire Santé extraction files (fast, deterministic, realistic shape)."""

from __future__ import annotations

import random

from chevet.core.mssante.directory import COLUMNS, fold

LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
        "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
        "Morel", "Girard", "André", "Lefebvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez"]
FIRST = ["Marie", "Jean", "Pierre", "Michel", "André", "Philippe", "Nathalie", "Isabelle", "Hélène", "Éric",
         "Sophie", "Camille", "Léa", "Hugo", "Chloé", "Zoé", "Loïc", "Gaëlle", "Anaïs", "Jérôme"]
PROFESSIONS = [("10", "Médecin"), ("60", "Infirmier"), ("70", "Masseur-Kinésithérapeute"),
               ("21", "Pharmacien"), ("40", "Chirurgien-Dentiste"), ("50", "Sage-Femme")]
SPECIALITIES = ["Médecine Générale", "Cardiologie", "Gériatrie", "Pédiatrie", "Psychiatrie", ""]
TOWNS = [("29200", "BREST"), ("75014", "PARIS"), ("69003", "LYON"), ("13005", "MARSEILLE"),
         ("44000", "NANTES"), ("31000", "TOULOUSE"), ("59000", "LILLE"), ("67000", "STRASBOURG"),
         ("35000", "RENNES"), ("33000", "BORDEAUX"), ("63000", "CLERMONT-FERRAND"), ("87000", "LIMOGES")]
STRUCTURES = ["CENTRE HOSPITALIER", "EHPAD LES TILLEULS", "CABINET MEDICAL", "CLINIQUE SAINT-JOSEPH",
              "MAISON DE SANTE", "PHARMACIE DU CENTRE", "CHU"]


def header() -> str:
    return "|".join(COLUMNS)


def line(i: int, rnd: random.Random) -> str:
    postcode, town = TOWNS[i % len(TOWNS)]
    structure = f"{STRUCTURES[i % len(STRUCTURES)]} {town}"
    if i % 7 == 0:
        kind, last, first, prof, spec = "ORG", "", "", ("", ""), ""
        address = f"secretariat.{i}@ch-{town.lower().replace('-', '')}.mssante.fr"
    else:
        kind = "PER"
        # Names depend on i only, so that a repeated line repeats its address.
        last, first = LAST[(i * 7919) % len(LAST)], FIRST[(i * 104729 // 7) % len(FIRST)]
        prof = PROFESSIONS[i % len(PROFESSIONS)]
        spec = SPECIALITIES[i % len(SPECIALITIES)] if prof[0] == "10" else ""
        address = f"{fold(first)}.{fold(last)}.{i}@medecin.mssante.fr"
    cells = [kind, address, "8" if kind == "PER" else "", f"{10000000000 + i}" if kind == "PER" else "",
             f"8{10000000000 + i}" if kind == "PER" else "", "FINESS", f"29000{i % 10000:04d}", "",
             "DR" if prof[0] == "10" else "", last.upper(), first, "C" if kind == "PER" else "",
             "Civil" if kind == "PER" else "", prof[0], prof[1], "", spec, "O", structure, "", "", "",
             str(i % 120), "", "R", "DE LA PAIX", "", f"{postcode} {town}", postcode, postcode[:2], "FRANCE"]
    return "|".join(cells)


def generate(rows: int, seed: int = 7) -> bytes:
    """``rows`` data lines (every 1000th repeats an earlier address), CRLF, with a BOM."""
    rnd = random.Random(seed)
    out = [header()]
    for i in range(rows):
        out.append(line(i - 500 if i % 1000 == 999 else i, rnd))
    return ("\ufeff" + "\r\n".join(out) + "\r\n").encode()
