"""The alert's state machine: steps, delays by day and night in Paris, acknowledgement once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chevet.core.care.alert import (
    AckKind,
    AlertState,
    AlertTarget,
    AlreadyAcknowledged,
    EventKind,
    Ladder,
    LadderStep,
    StepKind,
    TargetKind,
    acknowledge,
    escalate,
    next_step,
    raise_alert,
)
from chevet.core.errors import Conflict, Forbidden, InvalidInput

NIGHT = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)   # 03:00 in Paris
DAY = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)     # 10:00 in Paris
NURSE, SECOND, MANAGER, AUTHOR, OTHER = (uuid.uuid4() for _ in range(5))


def ids(n: int = 2) -> list[uuid.UUID]:
    return [uuid.uuid4() for _ in range(n)]


def new(now: datetime, people: tuple[uuid.UUID, ...] = (NURSE,), ladder: Ladder | None = None):  # type: ignore[no-untyped-def]
    return raise_alert(alert_id=uuid.uuid4(), org_id=uuid.uuid4(), conversation_id=uuid.uuid4(),
                       message_id=uuid.uuid4(), message_seq=3, team_id=None, raised_by=AUTHOR,
                       target=AlertTarget(TargetKind.PERSON, person_id=NURSE), people=people,
                       ladder=ladder or Ladder(), now=now, ids=ids())


def test_the_delay_is_the_nights_at_night_in_paris_and_the_days_by_day() -> None:
    ladder = Ladder(day_delay=timedelta(minutes=10), night_delay=timedelta(minutes=5))
    alert, events = new(NIGHT, ladder=ladder)
    assert alert.due_at == NIGHT + timedelta(minutes=5)
    assert [e.kind for e in events] == [EventKind.RAISED, EventKind.NOTIFIED]
    assert events[1].people == (NURSE,)
    assert new(DAY, ladder=ladder)[0].due_at == DAY + timedelta(minutes=10)
    # 21:00 in Paris in summer is 19:00 UTC: night by the local clock, whatever the offset.
    assert ladder.is_night(datetime(2026, 7, 1, 19, 0, tzinfo=UTC))
    assert not ladder.is_night(datetime(2026, 7, 1, 18, 59, tzinfo=UTC))


def test_an_alert_goes_up_the_ladder_then_stays_open_and_late() -> None:
    ladder = Ladder(steps=(LadderStep(StepKind.NEXT_ON_CALL), LadderStep(StepKind.MANAGER)))
    alert, _ = new(NIGHT, ladder=ladder)
    with pytest.raises(Conflict):
        escalate(alert, ladder, (SECOND,), NIGHT + timedelta(minutes=4), uuid.uuid4())
    assert next_step(alert, ladder) == LadderStep(StepKind.NEXT_ON_CALL)
    t1 = NIGHT + timedelta(minutes=5)
    one, e1 = escalate(alert, ladder, (SECOND,), t1, uuid.uuid4())
    assert (one.step, one.current, one.late, one.due_at, e1.kind) == (1, (SECOND,), True, t1 + ladder.night_delay,
                                                                       EventKind.ESCALATED)
    assert one.version == alert.version + 1
    assert next_step(one, ladder) == LadderStep(StepKind.MANAGER)
    t2 = t1 + ladder.night_delay
    two, _ = escalate(one, ladder, (MANAGER,), t2, uuid.uuid4())
    assert two.targeted == (NURSE, SECOND, MANAGER) and next_step(two, ladder) is None
    done, e3 = escalate(two, ladder, (), t2 + ladder.night_delay, uuid.uuid4())
    assert done.exhausted and done.state is AlertState.OPEN and done.late and e3.kind is EventKind.EXHAUSTED
    assert not done.is_due(t2 + timedelta(days=1))


def test_a_step_naming_nobody_is_due_again_at_once() -> None:
    alert, events = new(NIGHT, people=())
    assert alert.due_at == NIGHT and events[1].kind is EventKind.NOBODY
    moved, e = escalate(alert, Ladder(), (), NIGHT, uuid.uuid4())
    assert (moved.step, moved.due_at, e.kind) == (1, NIGHT, EventKind.NOBODY)


def test_acknowledged_once_by_someone_it_notified() -> None:
    alert, _ = new(NIGHT)
    with pytest.raises(Forbidden):
        acknowledge(alert, OTHER, AckKind.TAKEN, NIGHT, uuid.uuid4())
    one, _ = escalate(alert, Ladder(), (SECOND,), NIGHT + timedelta(minutes=5), uuid.uuid4())
    done, event = acknowledge(one, NURSE, AckKind.SEEN, NIGHT + timedelta(minutes=6), uuid.uuid4())
    assert (done.state, done.acknowledged_by, done.ack, done.due_at) == (AlertState.ACKNOWLEDGED, NURSE,
                                                                         AckKind.SEEN, None)
    assert event.kind is EventKind.ACKNOWLEDGED and event.actor_id == NURSE
    with pytest.raises(AlreadyAcknowledged):
        acknowledge(done, SECOND, AckKind.TAKEN, NIGHT + timedelta(minutes=7), uuid.uuid4())


def test_targets_and_steps_parse_from_the_form_or_are_refused() -> None:
    pid = uuid.uuid4()
    assert AlertTarget.parse(f"person:{pid}") == AlertTarget(TargetKind.PERSON, person_id=pid)
    assert AlertTarget.parse("role:@Astreinte-Médicale").address == "astreinte-medicale"
    assert AlertTarget.parse(f"on_call:{pid}").encode() == f"on_call:{pid}"
    for bad in ("", "person:12", "role:", "team:x", "on_call:"):
        with pytest.raises(InvalidInput):
            AlertTarget.parse(bad)
    assert LadderStep.parse("address:garde").encode() == "address:garde"
    for bad in ("manager:x", "boss", "address:"):
        with pytest.raises(InvalidInput):
            LadderStep.parse(bad)
    assert AlertTarget.parse("role:@Garde de Nuit").address == "garde-de-nuit"  # folded as the rosters store it
    with pytest.raises(InvalidInput):
        Ladder(night_delay=timedelta(seconds=10))


@given(st.text(max_size=120))
def test_any_text_from_the_form_is_a_target_or_a_refusal_in_words(value: str) -> None:
    try:
        target = AlertTarget.parse(value)
    except InvalidInput as exc:
        assert exc.code == "alert_target_invalid"
        return
    assert AlertTarget.parse(target.encode()) == target  # what is stored reads back the same
    assert len(target.encode()) <= 100  # fits its column


@given(st.text(max_size=80))
def test_any_step_from_the_form_is_a_step_or_a_refusal_in_words(value: str) -> None:
    try:
        step = LadderStep.parse(value)
    except InvalidInput as exc:
        assert exc.code == "alert_step_invalid"
        return
    assert LadderStep.parse(step.encode()) == step


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)))
def test_the_delay_is_the_nights_exactly_in_paris_night_hours(at: datetime) -> None:
    ladder = Ladder(day_delay=timedelta(minutes=10), night_delay=timedelta(minutes=5))
    local = at.astimezone(ZoneInfo("Europe/Paris"))
    night = local.hour >= 21 or local.hour < 7
    assert ladder.delay_at(at) == (timedelta(minutes=5) if night else timedelta(minutes=10))
