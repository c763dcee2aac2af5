"""Handovers (transmissions ciblées): what the outgoing shift writes for the incoming one about
one resident or patient, in the DAR form (Données, Actions, Résultats) under a target (cible).

Sans-I/O: the rules of a note and of a team's templates, the default shift changes used when a
team has no roster (07:00 and 19:00, Europe/Paris), and when an unconfirmed note is late.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import orjson

from chevet.core.conversation import looks_like_national_id
from chevet.core.errors import InvalidInput

PARIS = ZoneInfo("Europe/Paris")
MAX_TARGET = 80
MAX_FIELD = 2000          # characters, per DAR field
MAX_TEMPLATE_NAME = 60
MAX_PROMPT = 200
MAX_TEMPLATES = 30
FLAG_AFTER = timedelta(hours=1)
"""A note nobody of the incoming shift confirmed this long after the shift started is late."""

# Without a roster, shifts change at these Paris wall-clock times: day 07:00–19:00, night 19:00–07:00.
DEFAULT_CHANGES: tuple[tuple[time, str], ...] = ((time(7, 0), "Jour"), (time(19, 0), "Nuit"))


@dataclass(frozen=True, slots=True)
class HandoverShift:
    """The shift a note is for: its name and when it runs (aware UTC)."""

    name: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class HandoverContent:
    """What a note says. Sealed at rest as one JSON document."""

    target: str
    data: str
    actions: str
    results: str

    def to_json(self) -> bytes:
        return orjson.dumps({"target": self.target, "data": self.data, "actions": self.actions,
                             "results": self.results})

    @classmethod
    def from_json(cls, raw: bytes) -> HandoverContent:
        v = orjson.loads(raw)
        return cls(str(v["target"]), str(v["data"]), str(v["actions"]), str(v["results"]))

    @property
    def searchable_text(self) -> str:
        return "\n".join((self.target, self.data, self.actions, self.results))


@dataclass(frozen=True, slots=True)
class Handover:
    """One note, as stored (content sealed with the care case's data key)."""

    id: uuid.UUID
    org_id: uuid.UUID
    conversation_id: uuid.UUID
    team_id: uuid.UUID | None
    author_id: uuid.UUID
    created_at: datetime
    shift_name: str
    shift_starts_at: datetime
    shift_ends_at: datetime
    content_sealed: bytes
    confirmed_by: uuid.UUID | None = None
    confirmed_at: datetime | None = None
    flagged_at: datetime | None = None

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


@dataclass(frozen=True, slots=True)
class HandoverTemplate:
    """A team's model of a note: a name, the target it fills in, and a prompt for each field."""

    name: str
    target: str
    prompt_data: str
    prompt_actions: str
    prompt_results: str


DEFAULT_TEMPLATES: tuple[HandoverTemplate, ...] = (
    HandoverTemplate("Douleur", "Douleur", "Localisation, intensité (EVA, Algoplus), depuis quand",
                     "Antalgique donné (heure), installation, appel du médecin",
                     "Douleur réévaluée (score, heure), à surveiller"),
    HandoverTemplate("Chute", "Chute", "Heure, lieu, circonstances, lésions constatées",
                     "Relevé, constantes, surveillance, médecin et famille prévenus",
                     "État au moment de la relève, surveillance à poursuivre"),
    HandoverTemplate("Alimentation", "Alimentation", "Repas pris ou refusés, hydratation, troubles de la déglutition",
                     "Aide apportée, texture adaptée, compléments proposés",
                     "Quantités prises, poids, à surveiller"),
    HandoverTemplate("Élimination", "Élimination", "Selles, urines, continence, date des dernières selles",
                     "Change, aide aux toilettes, traitement donné",
                     "Résultat, à surveiller au prochain poste"),
    HandoverTemplate("Comportement", "Comportement", "Agitation, anxiété, désorientation, sommeil",
                     "Présence, réassurance, traitement si prescrit",
                     "Apaisé ou non, à quelle heure"),
    HandoverTemplate("Peau et pansements", "Peau", "Plaie, rougeur, escarre : où, quel aspect",
                     "Soin fait, pansement, changement de position",
                     "Évolution, prochain soin prévu"),
)


def _clean_text(value: str | None, limit: int, code: str) -> str:
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(text) > limit:
        raise InvalidInput(code, max=limit)
    if looks_like_national_id(text):
        raise InvalidInput("national_id_refused")
    return text


def clean_content(target: str | None, data: str | None, actions: str | None, results: str | None) -> HandoverContent:
    """A note needs its target, its données and its actions (the résultats may still be awaited).
    A national identifier (NIR/INS) is refused here as everywhere else."""
    t = " ".join((target or "").split())
    if not t:
        raise InvalidInput("handover.target_required")
    if len(t) > MAX_TARGET:
        raise InvalidInput("handover.target_too_long", max=MAX_TARGET)
    if looks_like_national_id(t):
        raise InvalidInput("national_id_refused")
    d = _clean_text(data, MAX_FIELD, "handover.field_too_long")
    a = _clean_text(actions, MAX_FIELD, "handover.field_too_long")
    r = _clean_text(results, MAX_FIELD, "handover.field_too_long")
    if not d:
        raise InvalidInput("handover.data_required")
    if not a:
        raise InvalidInput("handover.actions_required")
    return HandoverContent(t, d, a, r)


def clean_template(name: str | None, target: str | None, prompt_data: str | None, prompt_actions: str | None,
                   prompt_results: str | None) -> HandoverTemplate:
    n = " ".join((name or "").split())
    t = " ".join((target or "").split())
    if not n or not t:
        raise InvalidInput("handover.template_incomplete")
    if len(n) > MAX_TEMPLATE_NAME:
        raise InvalidInput("handover.template_name_too_long", max=MAX_TEMPLATE_NAME)
    if len(t) > MAX_TARGET:
        raise InvalidInput("handover.target_too_long", max=MAX_TARGET)
    prompts = [" ".join((p or "").split()) for p in (prompt_data, prompt_actions, prompt_results)]
    if any(len(p) > MAX_PROMPT for p in prompts):
        raise InvalidInput("handover.prompt_too_long", max=MAX_PROMPT)
    if any(looks_like_national_id(x) for x in (n, t, *prompts)):
        raise InvalidInput("national_id_refused")
    return HandoverTemplate(n, t, *prompts)


def clean_templates(templates: list[HandoverTemplate]) -> list[HandoverTemplate]:
    if len(templates) > MAX_TEMPLATES:
        raise InvalidInput("handover.too_many_templates", max=MAX_TEMPLATES)
    names = [t.name.casefold() for t in templates]
    if len(set(names)) != len(names):
        raise InvalidInput("handover.template_duplicate")
    return templates


def _changes_on(day: date) -> list[tuple[datetime, str]]:
    return [(datetime.combine(day, at, tzinfo=PARIS).astimezone(UTC), name)
            for at, name in DEFAULT_CHANGES]


def default_shift_after(at: datetime) -> HandoverShift:
    """Without a roster: the shift that starts at the first default change strictly after ``at``
    (computed on Paris wall-clock time, so a DST change moves the UTC instants, not the hours)."""
    if at.tzinfo is None:
        raise ValueError("aware datetime required")
    local_day = at.astimezone(PARIS).date()
    changes = [c for d in (local_day - timedelta(days=1), local_day, local_day + timedelta(days=1),
                           local_day + timedelta(days=2)) for c in _changes_on(d)]
    for i, (start, name) in enumerate(changes):
        if start > at:
            return HandoverShift(name, start, changes[i + 1][0])
    raise AssertionError("unreachable: there is always a change within two days")


def flag_due_at(shift: HandoverShift) -> datetime:
    return shift.starts_at + FLAG_AFTER


def is_late(h: Handover, now: datetime) -> bool:
    """Not confirmed an hour after its shift started."""
    return h.confirmed_at is None and now >= h.shift_starts_at + FLAG_AFTER
