"""``[blobs]``: the folder by default; the object store only when it is completely described, its
secret read from a private file."""

from __future__ import annotations

from pathlib import Path

import pytest

from chevet.adapters.blobs import FileBlobStore
from chevet.adapters.blobs_s3 import S3BlobStore
from chevet.bootstrap import blob_store, s3_blob_store
from chevet.settings import SettingsError, load_settings


def test_the_folder_is_the_default(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert settings.blobs.backend == "file" and isinstance(blob_store(settings), FileBlobStore)
    with pytest.raises(SettingsError, match="endpoint"):
        s3_blob_store(settings)  # the migration needs the object store described


def test_an_incomplete_object_store_is_refused_in_a_sentence(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="secret_key_file"):
        load_settings(tmp_path, environ={"CHEVET_BLOBS__BACKEND": "s3", "CHEVET_BLOBS__ENDPOINT": "https://s3.example",
                                         "CHEVET_BLOBS__BUCKET": "b", "CHEVET_BLOBS__ACCESS_KEY_ID": "k"})
    with pytest.raises(SettingsError, match="https://"):
        load_settings(tmp_path, environ={"CHEVET_BLOBS__BACKEND": "s3", "CHEVET_BLOBS__ENDPOINT": "s3.example",
                                         "CHEVET_BLOBS__BUCKET": "b", "CHEVET_BLOBS__ACCESS_KEY_ID": "k",
                                         "CHEVET_BLOBS__SECRET_KEY_FILE": str(tmp_path / "s")})
    with pytest.raises(SettingsError, match="prefix"):
        load_settings(tmp_path, environ={"CHEVET_BLOBS__PREFIX": "../x"})


def test_the_secret_comes_from_a_private_file_and_is_never_shown(tmp_path: Path) -> None:
    secret = tmp_path / "s3.secret"
    secret.write_text("tres-secret\n")
    secret.chmod(0o644)
    environ = {"CHEVET_BLOBS__BACKEND": "s3", "CHEVET_BLOBS__ENDPOINT": "https://s3.example/",
               "CHEVET_BLOBS__BUCKET": "chevet", "CHEVET_BLOBS__ACCESS_KEY_ID": "CHEVETAPP",
               "CHEVET_BLOBS__SECRET_KEY_FILE": str(secret), "CHEVET_BLOBS__PART_SIZE_MB": "16"}
    settings = load_settings(tmp_path, environ=environ)
    with pytest.raises(SettingsError, match="chmod 600"):
        blob_store(settings)
    secret.chmod(0o600)
    store = blob_store(settings)
    assert isinstance(store, S3BlobStore) and store.part_size == 16 * 1_048_576
    assert "tres-secret" not in repr(store) and "tres-secret" not in repr(store._credentials)
    store.close()
