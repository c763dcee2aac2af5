"""Handover rules, without I/O: what a DAR note needs, the templates' limits, the default shift
changes (07:00 and 19:00 in Paris, across the clock changes) and when a note is late."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chevet.core.care.handover import (
    DEFAULT_TEMPLATES,
    MAX_FIELD,
    Handover,
    HandoverContent,
    clean_content,
    clean_template,
    clean_templates,
    default_shift_after,
    is_late,
)
from chevet.core.errors import InvalidInput


def test_a_note_needs_its_target_its_data_and_its_actions() -> None:
    c = clean_content("  Chute ", " Retrouvée au sol\r\n à 3 h ", "Relevée, constantes", "")
    assert c == HandoverContent("Chute", "Retrouvée au sol\n à 3 h", "Relevée, constantes", "")
    assert HandoverContent.from_json(c.to_json()) == c
    for args, code in [(("", "d", "a", ""), "handover.target_required"),
                       (("Chute", " \n ", "a", ""), "handover.data_required"),
                       (("Chute", "d", "", "r"), "handover.actions_required"),
                       (("x" * 81, "d", "a", ""), "handover.target_too_long"),
                       (("Chute", "d" * (MAX_FIELD + 1), "a", ""), "handover.field_too_long"),
                       (("Chute", "d", "a", "r" * (MAX_FIELD + 1)), "handover.field_too_long"),
                       (("Chute", "INS 2 55 08 75 016 021 42", "a", ""), "national_id_refused")]:
        with pytest.raises(InvalidInput) as exc:
            clean_content(*args)
        assert exc.value.code == code
    assert clean_content("Chute", "d" * MAX_FIELD, "a", "").data == "d" * MAX_FIELD


def test_templates_have_french_defaults_and_limits() -> None:
    assert {"Douleur", "Chute", "Alimentation"} <= {t.target for t in DEFAULT_TEMPLATES}
    assert all(t.prompt_data and t.prompt_actions and t.prompt_results for t in DEFAULT_TEMPLATES)
    t = clean_template(" Plaie  talon ", "Plaie", "Aspect", "Soin", "")
    assert (t.name, t.prompt_results) == ("Plaie talon", "")
    with pytest.raises(InvalidInput):
        clean_template("Plaie", "", "", "", "")
    with pytest.raises(InvalidInput):
        clean_template("Plaie", "Plaie", "p" * 201, "", "")
    with pytest.raises(InvalidInput) as dup:
        clean_templates([t, clean_template("plaie TALON", "Peau", "", "", "")])
    assert dup.value.code == "handover.template_duplicate"
    with pytest.raises(InvalidInput):
        clean_templates([clean_template(f"M{n}", "Cible", "", "", "") for n in range(31)])


def test_default_shifts_change_at_7_and_19_in_paris() -> None:
    # Winter (UTC+1): at 18:30 in Paris, the next shift is the night, 19:00 to 07:00.
    s = default_shift_after(datetime(2026, 1, 12, 17, 30, tzinfo=UTC))
    assert (s.name, s.starts_at, s.ends_at) == ("Nuit", datetime(2026, 1, 12, 18, 0, tzinfo=UTC),
                                                datetime(2026, 1, 13, 6, 0, tzinfo=UTC))
    # 06:59 in Paris: the day shift at 07:00; at 07:00 exactly, the next one is the night.
    assert default_shift_after(datetime(2026, 1, 13, 5, 59, tzinfo=UTC)).starts_at == \
        datetime(2026, 1, 13, 6, 0, tzinfo=UTC)
    assert default_shift_after(datetime(2026, 1, 13, 6, 0, tzinfo=UTC)).name == "Nuit"
    # Summer (UTC+2): 19:00 in Paris is 17:00 UTC.
    assert default_shift_after(datetime(2026, 7, 1, 16, 0, tzinfo=UTC)).starts_at == \
        datetime(2026, 7, 1, 17, 0, tzinfo=UTC)


def test_the_nights_of_the_clock_changes() -> None:
    # 29 March 2026: the night lasts 11 h (19:00 CET to 07:00 CEST); 25 October 2026: 13 h.
    spring = default_shift_after(datetime(2026, 3, 28, 17, 30, tzinfo=UTC))
    assert (spring.name, spring.ends_at - spring.starts_at) == ("Nuit", timedelta(hours=11))
    assert spring.ends_at == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)
    autumn = default_shift_after(datetime(2026, 10, 24, 16, 30, tzinfo=UTC))
    assert (autumn.name, autumn.ends_at - autumn.starts_at) == ("Nuit", timedelta(hours=13))
    with pytest.raises(ValueError):
        default_shift_after(datetime(2026, 1, 1, 12, 0))


def test_a_note_is_late_an_hour_after_its_shift_started_unless_confirmed() -> None:
    start = datetime(2026, 1, 12, 18, 0, tzinfo=UTC)
    h = Handover(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), None, uuid.uuid4(), start - timedelta(minutes=30),
                 "Nuit", start, start + timedelta(hours=12), b"x")
    assert not is_late(h, start + timedelta(minutes=59, seconds=59))
    assert is_late(h, start + timedelta(hours=1))
    assert not is_late(replace(h, confirmed_at=start + timedelta(minutes=5), confirmed_by=uuid.uuid4()),
                       start + timedelta(hours=3))
