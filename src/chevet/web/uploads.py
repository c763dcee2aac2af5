"""Reading a multipart upload into memory, within a limit.

Starlette's form parser spools file parts over 1 MiB to a temporary file on disk; a care
photo must never touch the disk in clear, so the one file part is collected in memory
(bounded by the upload limit) and handed to the application, which seals it before storing.
"""

from __future__ import annotations

from dataclasses import dataclass

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from chevet.core.errors import InvalidInput, TooLarge


@dataclass
class UploadedFile:
    name: str | None
    data: bytes


class _Collector:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.headers: dict[bytes, bytes] = {}
        self.current: bytearray | None = None
        self.current_name: str | None = None
        self.is_file = False
        self.file: UploadedFile | None = None
        self.files = 0

    def on_part_begin(self) -> None:
        self.headers = {}
        self.current = bytearray()
        self.is_file = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self.headers.get(b"content-disposition", b""))
        field = params.get(b"name", b"")
        self.is_file = field == b"file"
        raw = params.get(b"filename")
        self.current_name = raw.decode("utf-8", "replace") if raw is not None else None

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.current is None or not self.is_file:
            return  # other fields are ignored (and bounded by the request limit)
        self.current += data[start:end]
        if len(self.current) > self.limit:
            raise TooLarge("attachment_too_large", max=self.limit)

    def on_part_end(self) -> None:
        if self.is_file and self.current is not None:
            self.files += 1
            if self.files > 1:
                raise InvalidInput("attachment_one_file")
            self.file = UploadedFile(self.current_name, bytes(self.current))
        self.current = None


async def read_upload(request: Request, limit: int) -> UploadedFile:
    """The part named ``file`` of a ``multipart/form-data`` body."""
    c = _Collector(limit)
    await _feed(request, c)
    if c.file is None:
        raise InvalidInput("attachment_file_missing")
    return c.file


class _FormCollector(_Collector):
    """Every part: text fields (bounded in total) and up to ``max_files`` files named ``file``."""

    def __init__(self, limit: int, max_files: int, max_text: int) -> None:
        super().__init__(limit)
        self.max_files, self.max_text, self.text_size = max_files, max_text, 0
        self.field_name = ""
        self.fields: dict[str, list[str]] = {}
        self.uploads: list[UploadedFile] = []

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        _, params = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.field_name = params.get(b"name", b"").decode("utf-8", "replace")[:100]

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.current is None:
            return
        if self.is_file:
            super().on_part_data(data, start, end)
            return
        self.text_size += end - start
        if self.text_size > self.max_text:
            raise TooLarge("request_too_large")
        self.current += data[start:end]

    def on_part_end(self) -> None:
        if self.current is None:
            return
        if self.is_file:
            if self.current or self.current_name:   # a file input left empty sends an empty part
                if len(self.uploads) >= self.max_files:
                    raise InvalidInput("too_many_attachments", max=self.max_files)
                if self.current:
                    self.uploads.append(UploadedFile(self.current_name, bytes(self.current)))
        else:
            self.fields.setdefault(self.field_name, []).append(bytes(self.current).decode("utf-8", "replace"))
        self.current = None


async def read_form_with_files(request: Request, limit: int, max_files: int,
                               max_text: int = 256 * 1024) -> tuple[dict[str, list[str]], list[UploadedFile]]:
    """A ``multipart/form-data`` form of a page (a message with its files, without script):
    its text fields, and its files (parts named ``file``) kept in memory like an upload."""
    c = _FormCollector(limit, max_files, max_text)
    await _feed(request, c)
    return c.fields, c.uploads


async def _feed(request: Request, c: _Collector) -> None:
    """Stream the request's ``multipart/form-data`` body through a collector."""
    content_type, params = parse_options_header(request.headers.get("content-type"))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary or len(boundary) > 200:
        raise InvalidInput("attachment_multipart_required")
    parser = MultipartParser(boundary, {
        "on_part_begin": c.on_part_begin, "on_header_field": c.on_header_field,
        "on_header_value": c.on_header_value, "on_header_end": c.on_header_end,
        "on_headers_finished": c.on_headers_finished, "on_part_data": c.on_part_data,
        "on_part_end": c.on_part_end})
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise InvalidInput("attachment_multipart_required") from exc
