"""Realistic care-team messages: 130 characters of French handover text."""

from __future__ import annotations

import random

SUBJECTS = ["Mme Durand ch. 12", "M. Leroy ch. 4", "Mme Petit ch. 21", "M. Garcia ch. 7", "Mme Faure ch. 15",
            "M. Roux ch. 9", "Mme Blanc ch. 3", "M. Henry ch. 18"]
FACTS = ["pansement refait ce matin, plaie propre", "a peu mangé au déjeuner, hydratation à surveiller",
         "tension 13/8, pouls régulier", "chute sans gravité dans la salle de bain, vu par l'infirmière",
         "douleur au genou droit, paracétamol donné à 14h", "famille passée, demande un appel du médecin",
         "sommeil agité cette nuit, plusieurs levers", "selles normales, pas de fièvre",
         "refuse la toilette, à reproposer en fin de matinée", "glycémie 1,45 g/l avant le repas"]
ACTIONS = ["merci de surveiller cet après-midi.", "à transmettre à l'équipe de nuit.", "rappeler le Dr Martin.",
           "noter dans le dossier de soins.", "prévoir un contrôle demain matin.", "RAS pour le reste."]
LENGTH = 130


def message(rng: random.Random) -> str:
    """One message of exactly 130 characters."""
    text = f"{rng.choice(SUBJECTS)} : {rng.choice(FACTS)} ; {rng.choice(FACTS)}, {rng.choice(ACTIONS)}"
    while len(text) < LENGTH:
        text += " " + rng.choice(ACTIONS)
    return text[:LENGTH].rstrip().ljust(LENGTH, ".")


SEARCH_WORDS = ["pansement", "hydratation", "glycémie", "chute", "famille", "sommeil", "douleur", "toilette"]
