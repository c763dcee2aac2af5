"""Reading a multipart upload (one file, or a form with its files) into memory, within a limit.

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
    def __init__(self, limit: int, max_files: int = 1, fields: frozenset[str] = frozenset(),
                 field_limit: int = 65536) -> None:
        self.limit = limit
        self.max_files = max_files
        self.wanted_fields = fields
        self.field_limit = field_limit
        self.fields: dict[str, list[str]] = {}
        self.files: list[UploadedFile] = []
        self.total = 0
        self.field_name = ""
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.headers: dict[bytes, bytes] = {}
        self.current: bytearray | None = None
        self.current_name: str | None = None
        self.is_file = False

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
        self.field_name = field.decode("utf-8", "replace")
        raw = params.get(b"filename")
        self.current_name = raw.decode("utf-8", "replace") if raw is not None else None

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.current is None:
            return
        if not self.is_file:
            if self.field_name in self.wanted_fields:
                self.current += data[start:end]
                if len(self.current) > self.field_limit:
                    raise TooLarge("request_too_large", max=self.field_limit)
            return  # other fields are ignored (and bounded by the request limit)
        self.current += data[start:end]
        if self.total + len(self.current) > self.limit:
            raise TooLarge("attachment_too_large", max=self.limit)

    def on_part_end(self) -> None:
        if self.current is None:
            return
        if self.is_file:
            if self.current_name == "" and not self.current:
                self.current = None  # a file input left empty sends an empty part
                return
            if len(self.files) >= self.max_files:
                raise InvalidInput("attachment_one_file" if self.max_files == 1 else "too_many_attachments",
                                   max=self.max_files)
            self.files.append(UploadedFile(self.current_name, bytes(self.current)))
            self.total += len(self.current)
        elif self.field_name in self.wanted_fields:
            if len(self.fields) > 100:
                raise InvalidInput("request_invalid")
            self.fields.setdefault(self.field_name, []).append(bytes(self.current).decode("utf-8", "replace"))
        self.current = None


async def read_upload(request: Request, limit: int) -> UploadedFile:
    """The part named ``file`` of a ``multipart/form-data`` body."""
    c = await _collect(request, _Collector(limit))
    if not c.files:
        raise InvalidInput("attachment_file_missing")
    return c.files[0]


@dataclass
class Multipart:
    fields: dict[str, list[str]]
    files: list[UploadedFile]

    def one(self, name: str) -> str:
        values = self.fields.get(name)
        return values[0] if values else ""

    def many(self, name: str) -> list[str]:
        return list(self.fields.get(name, []))


async def read_multipart(request: Request, limit: int, max_files: int, fields: frozenset[str],
                         field_limit: int = 65536) -> Multipart:
    """A form with any number (up to ``max_files``) of parts named ``file``, together at most
    ``limit`` bytes, kept in memory, and the text ``fields`` named, each at most ``field_limit``
    bytes (others are ignored)."""
    c = await _collect(request, _Collector(limit, max_files, fields, field_limit))
    return Multipart(c.fields, c.files)


def is_multipart(request: Request) -> bool:
    return parse_options_header(request.headers.get("content-type"))[0] == b"multipart/form-data"


async def _collect(request: Request, c: _Collector) -> _Collector:
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
    return c
