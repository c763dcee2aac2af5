"""How a preview names a message without text, and its sender."""

from __future__ import annotations

from chevet.app.messaging.previews import files_label, first_name


def test_files_are_named_by_what_they_are() -> None:
    assert files_label(["image/jpeg"], ["image"]) == "photo"
    assert files_label(["image/jpeg", "image/png"], ["image", "image"]) == "photo"
    assert files_label(["audio/ogg"], ["document"]) == "voice"
    assert files_label(["image/jpeg", "audio/webm"], ["image", "document"]) == "voice"
    assert files_label(["application/pdf"], ["document"]) == "file"
    assert files_label(["image/jpeg", "application/pdf"], ["image", "document"]) == "file"


def test_the_sender_is_named_by_the_first_name() -> None:
    assert first_name("Paul Lefèvre") == "Paul"
    assert first_name("Marie-Claire  Dupont") == "Marie-Claire"
    assert first_name("") == ""
