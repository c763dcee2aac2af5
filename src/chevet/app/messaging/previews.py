"""The preview of a conversation's last message in its member's list: who wrote it and how it
begins, decrypted on the server for that member only. An organisation whose screens are shared
turns it off (``PreferenceRepository.org_list_preview``): the list then carries no text at all."""

from __future__ import annotations

import re
import uuid

from chevet.app.messaging.views import PreviewView, body_of
from chevet.core.entities import Conversation, Membership
from chevet.core.envelope import DataKey
from chevet.core.message import MessageFlag
from chevet.ports import Transaction

# Enough for one line on a desktop; the phone's ellipsis does the rest. Never the whole message.
PREVIEW_CHARS = 90
_MENTION = re.compile(r"@\[([0-9a-fA-F-]{36})\]")
_SPACES = re.compile(r"\s+")


def files_label(mimes: list[str], kinds: list[str]) -> str:
    """What a message without text carries, by its files' types and kinds: "voice", "photo" or
    "file" (the words of the list preview and of a reply's quote; ``30-list.js`` and
    ``23-quotes.js`` say the same in the browser)."""
    if any(m.startswith("audio/") for m in mimes):
        return "voice"
    if kinds and all(k == "image" for k in kinds):
        return "photo"
    return "file"


def first_name(name: str) -> str:
    """"Paul" for "Paul Lefèvre": the list has one line for sender and text."""
    return name.split()[0] if name.strip() else name


async def preview_of(tx: Transaction, actor_id: uuid.UUID, conv: Conversation, key: DataKey,
                     membership: Membership, names: dict[uuid.UUID, str]) -> PreviewView | None:
    """None when there is no message the member may see, or the last one was deleted (its trace
    is no news). ``names`` (people of the organisation by id) is filled as needed."""
    e = await tx.entries.last_message(conv.id, membership.visible_from_seq)
    if e is None or e.flags & MessageFlag.DELETED:
        return None
    body = body_of(conv.id, key, e) or ""
    wanted = {e.author_id} if e.author_id else set()
    for raw in _MENTION.findall(body):
        try:
            wanted.add(uuid.UUID(raw))
        except ValueError:
            continue
    missing = [i for i in wanted if i not in names]
    if missing:
        names.update({p.id: p.name for p in await tx.people.many(conv.org_id, missing)})
    text = _MENTION.sub(lambda m: "@" + _name(names, m.group(1)), body)
    text = _SPACES.sub(" ", text).strip()
    files = None
    if not text:
        atts = await tx.attachments.for_entries(conv.id, [e.id])
        if not atts:
            return None
        files = files_label([a.mime for a in atts], [a.kind.value for a in atts])
    elif len(text) > PREVIEW_CHARS:
        text = text[:PREVIEW_CHARS].rstrip() + "…"
    mine = e.author_id == actor_id
    author = "" if mine or e.author_id is None else first_name(names.get(e.author_id, ""))
    return {"seq": e.seq, "author": author, "mine": mine, "text": text, "files": files}


def _name(names: dict[uuid.UUID, str], raw: str) -> str:
    try:
        return names.get(uuid.UUID(raw), "?")
    except ValueError:
        return "?"
