"""Re-indexing: older messages get the search terms of the current blind index.

Messages stored before word beginnings were indexed have word terms only. The migration that
introduced prefix terms queued every conversation that had messages (``search_reindex``); this
job takes them organisation by organisation, opens a batch of messages, computes their terms
again and stores them with the queue's progress in one short transaction, so that it can stop at
any point and go on from there, and never holds the database for long. Messages sent since have
the current terms already."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from chevet.app.messaging.views import body_of
from chevet.app.services import Actor, Services
from chevet.core import blind_index
from chevet.core.message import EntryKind

log = logging.getLogger("chevet.search")
BATCH = 200


@dataclass(frozen=True)
class Progress:
    messages: int  # messages given new terms by this run
    left: int  # messages still waiting, in every organisation


async def reindex_batch(services: Services, batch: int = BATCH) -> int | None:
    """One transaction: the next batch of the next queued conversation. The number of messages
    re-indexed, or None when the queue is empty."""
    async with services.unit() as u:
        queued = await u.tx.entries.reindex_next()
        if queued is None:
            return None
        org_id, conv_id, done_seq, upto_seq = queued
        wrapped = await u.tx.conversations.wrapped_key(conv_id)
        if wrapped is None:  # erased or shredded since: nothing left to index
            await u.tx.entries.reindex_finish(conv_id)
            return 0
        key = await services.unwrap_key(org_id, conv_id, wrapped)
        entries = [e for e in await u.tx.entries.after(conv_id, done_seq, batch, [int(EntryKind.MESSAGE)])
                   if e.seq <= upto_seq]
        terms = []
        for e in entries:
            text = body_of(conv_id, key, e)
            terms.append((e.seq, blind_index.terms(key.search_key, text) if text else []))
        await u.tx.entries.set_terms(conv_id, terms)
        if len(entries) < batch or entries[-1].seq >= upto_seq:
            await u.tx.entries.reindex_finish(conv_id)
        else:
            await u.tx.entries.reindex_advance(conv_id, entries[-1].seq)
        return len(entries)


async def reindex(services: Services, batch: int = BATCH, max_batches: int | None = None,
                  pause: float = 0.0) -> Progress:
    """Batches until the queue is empty (or ``max_batches`` were done), ``pause`` seconds apart,
    logging the progress when it moves on to another organisation."""
    done = batches = 0
    current = None
    while max_batches is None or batches < max_batches:
        async with services.unit() as u:
            queued = await u.tx.entries.reindex_next()
            if queued is not None and queued[0] != current:
                current = queued[0]
                log.info("search re-index", extra={"org": str(current),
                                                    "left": await u.tx.entries.reindex_left(current)})
        n = await reindex_batch(services, batch)
        if n is None:
            break
        done += n
        batches += 1
        if pause:
            await asyncio.sleep(pause)
    remaining = await left(services)
    if done:
        log.info("search re-index progress", extra={"count": done, "left": remaining})
    return Progress(done, remaining)


async def left(services: Services) -> int:
    """Messages still waiting, in every organisation (an upper bound)."""
    async with services.unit() as u:
        return await u.tx.entries.reindex_left()


async def waiting(services: Services, actor: Actor) -> int:
    """Messages of the actor's organisation whose word beginnings are not indexed yet (an upper
    bound): the search page says so while there are any."""
    async with services.unit(actor.ip) as u:
        return await u.tx.entries.reindex_left(actor.org_id)
