"""The health directory: import of the Annuaire Santé MSSanté extraction, and local search.

Search never calls anything outside: it reads the imported copy only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NotRequired

from typing_extensions import TypedDict

from chevet.app.services import Actor, Services
from chevet.core.errors import InvalidInput
from chevet.core.mssante.directory import MAILBOX_TYPES, DirectoryEntry, Rejected, merge, parse, query_words

BATCH = 5000
MAX_RESULTS = 50


@dataclass
class ImportReport:
    imported: int = 0
    duplicates_merged: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    rejected_lines: list[tuple[int, str]] = field(default_factory=list)   # the first ones, for the log
    generation: int = 0

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def as_dict(self) -> dict[str, Any]:
        return {"imported": self.imported, "duplicates_merged": self.duplicates_merged,
                "rejected": self.rejected_total, "rejected_by_reason": dict(self.rejected)}


Progress = Callable[[int], None]


async def import_extraction(services: Services, lines: Iterable[bytes], source: str,
                            progress: Progress | None = None) -> ImportReport:
    """Replace the directory with the extraction's content. Readers see the old directory until
    the new one is complete; an interrupted import leaves the old one in place."""
    report = ImportReport()
    async with services.db.transaction() as tx:
        generation = await tx.directory.new_generation()
    report.generation = generation
    seen: set[str] = set()
    batch: dict[str, DirectoryEntry] = {}
    read = 0

    async def flush() -> None:
        if batch:
            async with services.db.transaction() as tx:
                await tx.directory.add_batch(generation, list(batch.values()))
            batch.clear()

    for item in parse(lines):
        read += 1
        if isinstance(item, Rejected):
            report.rejected[item.reason] += 1
            if len(report.rejected_lines) < 50:
                report.rejected_lines.append((item.line, item.reason))
            continue
        if item.address in seen:
            report.duplicates_merged += 1
            if item.address in batch:
                batch[item.address] = merge(batch[item.address], item)
            else:
                async with services.db.transaction() as tx:
                    first = await tx.directory.get(generation, item.address)
                    if first is not None:
                        await tx.directory.replace(generation, merge(first, item))
            continue
        seen.add(item.address)
        batch[item.address] = item
        report.imported += 1
        if len(batch) >= BATCH:
            await flush()
            if progress:
                progress(read)
    await flush()
    if progress:
        progress(read)
    if report.imported == 0:
        raise InvalidInput("directory_empty")
    async with services.db.transaction() as tx:
        bounds = await tx.directory.id_range(generation)
    if bounds:
        for start in range(bounds[0], bounds[1] + 1, 20000):
            async with services.db.transaction() as tx:
                await tx.directory.index_range(generation, start, min(start + 19999, bounds[1]))
    async with services.unit() as u:
        await u.tx.directory.activate(generation, services.clock.now(), source, report.as_dict())
        await u.audit(None, "directory.imported", None, "directory", None, source=source[:200], **report.as_dict())
    await purge_old(services, generation)
    return report


async def purge_old(services: Services, keep: int) -> None:
    async with services.db.transaction() as tx:
        stale = await tx.directory.stale_generations(keep)
    for old in stale:
        async with services.db.transaction() as tx:
            bounds = await tx.directory.id_range(old)
        if not bounds:
            continue
        for start in range(bounds[0], bounds[1] + 1, 20000):
            async with services.db.transaction() as tx:
                await tx.directory.purge_range(old, start, min(start + 19999, bounds[1]))


class DirectoryEntryView(TypedDict):
    address: str
    mailbox_type: str
    name: str
    civility: str | None
    first_name: str | None
    last_name: str | None
    profession: str | None
    speciality: str | None
    structure: str | None
    service: str | None
    town: str | None
    postcode: str | None


class DirectoryStatusView(TypedDict):
    """When the directory was imported (None: never), from where, with the import's counts."""

    imported_at: str | None
    source: NotRequired[str]
    imported: NotRequired[int]
    duplicates_merged: NotRequired[int]
    rejected: NotRequired[int]
    rejected_by_reason: NotRequired[dict[str, int]]


def entry_view(e: DirectoryEntry) -> DirectoryEntryView:
    return {"address": e.address, "mailbox_type": e.mailbox_type, "name": e.display_name,
            "civility": e.civility or None, "first_name": e.first_name or None, "last_name": e.last_name or None,
            "profession": e.profession or None, "speciality": e.speciality or None,
            "structure": e.structure or e.trade_name or None, "service": e.service or None,
            "town": e.town or None, "postcode": e.postcode or None}


async def search(services: Services, actor: Actor | None, query: str, *, mailbox_type: str | None = None,
                 limit: int = 20) -> list[DirectoryEntryView]:
    """Prefix search on every word (name, profession, structure, town, address)."""
    del actor  # any signed-in member may search the public directory
    words = query_words(query or "")
    if not words:
        raise InvalidInput("search_query_empty")
    if mailbox_type is not None and mailbox_type.upper() not in MAILBOX_TYPES:
        raise InvalidInput("directory_mailbox_type", allowed=", ".join(MAILBOX_TYPES))
    limit = max(1, min(limit, MAX_RESULTS))
    async with services.db.transaction() as tx:
        state = await tx.directory.state()
        if state is None:
            return []
        found = await tx.directory.search(int(state["generation"]), words, limit,
                                          mailbox_type.upper() if mailbox_type else None)
    return [entry_view(e) for e in found]


async def status(services: Services) -> DirectoryStatusView | None:
    async with services.db.transaction() as tx:
        state = await tx.directory.state()
    if state is None:
        return None
    view: DirectoryStatusView = {"imported_at": state["imported_at"].isoformat(), "source": state["source"]}
    view.update(state["counts"])
    return view
