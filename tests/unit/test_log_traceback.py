"""A bug is logged with where it happened, never with what its messages say (they may carry
what a user typed: a patient's name in a ValueError)."""

from __future__ import annotations

import io
import logging

import orjson

from chevet.logs import JsonFormatter


def _raise_with_secret() -> None:
    raise ValueError("Mme Dupont, chambre 12")


def test_an_error_is_logged_with_its_frames_and_without_its_messages() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("chevet.test.traceback")
    log.addHandler(handler)
    try:
        try:
            _raise_with_secret()
        except ValueError as exc:
            raise RuntimeError("Dupont again") from exc
    except RuntimeError as exc:
        log.error("unexpected error", exc_info=exc)
    finally:
        log.removeHandler(handler)
    line = out.getvalue()
    record = orjson.loads(line)
    assert record["traceback"][0] == "ValueError"
    assert any(frame.endswith(" _raise_with_secret") for frame in record["traceback"])
    assert "RuntimeError" in record["traceback"]
    assert "Dupont" not in line and "chambre" not in line
