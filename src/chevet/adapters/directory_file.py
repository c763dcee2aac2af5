"""Reading the Annuaire Santé extraction: a local file or an https URL, zipped or plain.

The zip is the one the Annuaire Santé publishes (one ``Extraction_Correspondance_MSSante_*.txt``);
it is still treated as hostile: one text member, bounded size and compression ratio.
"""

from __future__ import annotations

import ssl
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

from chevet.core.errors import InvalidInput

CHUNK = 1 << 20
MAX_BYTES = 1 << 30          # 1 GiB of text: the real file is about 90 MB
MAX_DOWNLOAD = 300 << 20
MAX_RATIO = 50


class DirectorySourceError(InvalidInput):
    code = "directory_source_invalid"


def _zip_chunks(path: Path) -> Iterator[bytes]:
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DirectorySourceError("directory_source_invalid", reason="zip") from exc
    with z:
        members = [i for i in z.infolist() if not i.is_dir()]
        texts = [i for i in members if i.filename.lower().endswith(".txt")]
        if len(texts) != 1 or len(members) > 5:
            raise DirectorySourceError("directory_source_invalid", reason="zip_content")
        info = texts[0]
        if info.file_size > MAX_BYTES or (info.compress_size and info.file_size / info.compress_size > MAX_RATIO):
            raise DirectorySourceError("directory_source_invalid", reason="zip_size")
        total = 0
        with z.open(info) as f:
            while chunk := f.read(CHUNK):
                total += len(chunk)
                if total > MAX_BYTES or total > info.file_size:
                    raise DirectorySourceError("directory_source_invalid", reason="zip_size")
                yield chunk


def file_chunks(path: Path) -> Iterator[bytes]:
    """The extraction's bytes, unzipped if needed."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic.startswith(b"PK\x03\x04"):
        yield from _zip_chunks(path)
        return
    total = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            total += len(chunk)
            if total > MAX_BYTES:
                raise DirectorySourceError("directory_source_invalid", reason="size")
            yield chunk


def download(url: str, target: Path, trust_anchor: Path | None) -> Path:
    """Fetch the extraction over https into ``target`` (an administrator configured this URL)."""
    if not url.startswith("https://"):
        raise DirectorySourceError("directory_source_invalid", reason="https_only")
    ctx = ssl.create_default_context(cafile=str(trust_anchor) if trust_anchor else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    request = urllib.request.Request(url, headers={"User-Agent": "Chevet directory refresh"})  # noqa: S310
    with urllib.request.urlopen(request, context=ctx, timeout=120) as response, open(target, "wb") as out:  # noqa: S310
        copied = 0
        while chunk := response.read(CHUNK):
            copied += len(chunk)
            if copied > MAX_DOWNLOAD:
                raise DirectorySourceError("directory_source_invalid", reason="size")
            out.write(chunk)
    return target


def fetch_source(source: str, trust_anchor: Path | None, workdir: Path) -> Path:
    """A local copy of the configured source (the path itself when it is local)."""
    if source.startswith("https://"):
        workdir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=workdir, prefix="annuaire-", delete=False) as tmp:
            path = Path(tmp.name)
        return download(source, path, trust_anchor)
    path = Path(source)
    if not path.is_file():
        raise DirectorySourceError("directory_source_invalid", reason="missing")
    return path


def discard(path: Path, source: str) -> None:
    if source.startswith("https://"):
        path.unlink(missing_ok=True)

