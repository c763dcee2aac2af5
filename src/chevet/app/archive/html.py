"""The static HTML browse inside an export: one index and one page per conversation, readable
in any browser straight from the disk. No script, no external resource, styles inline."""

from __future__ import annotations

from typing import Any

from chevet.app.documents import document

_STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#1a1a1a}
ol.log{list-style:none;padding:0}ol.log li{border-bottom:1px solid #ddd;padding:.4rem 0}
.meta{color:#555;font-size:.9em}.body{white-space:pre-wrap;margin:.2rem 0}.event{color:#555;font-style:italic}
.urgent{color:#a00000;font-weight:bold}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.2rem .5rem}"""

_INDEX = document("""<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>{{ org.name }} — archive Chevet</title>
<style>{{ style }}</style></head><body>
<h1>{{ org.name }}</h1>
<p>Archive exportée le {{ exported_at }} ({{ conversations|length }} conversations, {{ people|length }} personnes).
<span lang="en">Chevet export of {{ exported_at }}.</span></p>
<h2>Conversations</h2>
<table><thead><tr><th scope="col">Conversation</th><th scope="col">Type</th><th scope="col">Créée le</th>
<th scope="col">Entrées</th></tr></thead><tbody>
{% for c in conversations %}<tr><td><a href="c/{{ c.id }}.html">{{ c.label }}</a></td><td>{{ kinds[c.kind] }}</td>
<td>{{ c.created_at }}</td><td>{{ c.last_seq }}</td></tr>
{% endfor %}</tbody></table>
<h2>Personnes</h2>
<table><thead><tr><th scope="col">Nom</th><th scope="col">Rôle</th><th scope="col">Statut</th></tr></thead><tbody>
{% for p in people %}<tr><td>{{ p.name }}</td><td>{{ p.role }}</td><td>{{ p.status }}</td></tr>
{% endfor %}</tbody></table>
</body></html>
""")

_CONVERSATION = document("""<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>{{ c.label }} — {{ org.name }}</title>
<style>{{ style }}</style></head><body>
<p><a href="../index.html">← Toutes les conversations</a></p>
<h1>{{ c.label }}</h1>
<p class="meta">{{ kinds[c.kind] }}{% if c.care_case_ref %} · référence {{ c.care_case_ref }}{% endif %}
· créée le {{ c.created_at }}{% if c.closed_at %} · clôturée le {{ c.closed_at }}{% endif %}</p>
<p>Membres : {{ members|join(", ") }}</p>
<ol class="log">
{% for e in entries %}<li id="s{{ e.seq }}">
{% if e.kind == "message" %}<div class="meta">#{{ e.seq }} · {{ names.get(e.author_id, "?") }} · {{ e.created_at }}
{% if e.urgent %}<span class="urgent">urgent</span>{% endif %}{% if e.reply_to_seq %} · en réponse à
<a href="#s{{ e.reply_to_seq }}">#{{ e.reply_to_seq }}</a>{% endif %}
{% if e.edited %} · modifié le {{ e.edited_at }}{% endif %}</div>
{% if e.deleted %}<p class="event">Message supprimé.</p>{% else %}<p class="body">{{ e.body }}</p>{% endif %}
{% elif e.kind == "edit" %}<p class="event">#{{ e.seq }} · {{ names.get(e.author_id, "?") }} a modifié le message
<a href="#s{{ e.target_seq }}">#{{ e.target_seq }}</a> le {{ e.created_at }}.{% if e.body is not none %}
Texte précédent :</p><p class="body">{{ e.body }}{% endif %}</p>
{% elif e.kind == "delete" %}<p class="event">#{{ e.seq }} · {{ names.get(e.author_id, "?") }} a supprimé le message
#{{ e.target_seq }} le {{ e.created_at }}.</p>
{% elif e.kind == "member_added" %}<p class="event">#{{ e.seq }} · {{ names.get(e.subject_id, "?") }} a été ajouté(e)
par {{ names.get(e.author_id, "?") }} le {{ e.created_at }}.</p>
{% elif e.kind == "member_removed" %}<p class="event">#{{ e.seq }} · {{ names.get(e.subject_id, "?") }} a quitté la
conversation le {{ e.created_at }}.</p>
{% else %}<p class="event">#{{ e.seq }} · conversation créée par {{ names.get(e.author_id, "?") }} le
{{ e.created_at }}.</p>{% endif %}
</li>
{% endfor %}</ol>
{% if handovers %}<h2>Transmissions ciblées</h2>
<ol class="log">
{% for h in handovers %}<li id="t{{ h.id }}"><div class="meta">{{ h.target }} · {{ names.get(h.author_id, "?") }} ·
{{ h.created_at }} · poste {{ h.shift_name }} du {{ h.shift_starts_at }}
{% if h.confirmed_at %} · reprise par {{ names.get(h.confirmed_by, "?") }} le {{ h.confirmed_at }}
{% else %} · <span class="urgent">non reprise</span>{% endif %}</div>
<p class="body">Données : {{ h.data }}</p><p class="body">Actions : {{ h.actions }}</p>
<p class="body">Résultats : {{ h.results }}</p></li>
{% endfor %}</ol>{% endif %}
</body></html>
""")

KINDS = {"direct": "Message direct", "group": "Groupe", "team": "Canal d'équipe", "care_case": "Dossier de soins"}


def label(conv: dict[str, Any], names: dict[str, str]) -> str:
    if conv["title"]:
        return str(conv["title"])
    return KINDS[conv["kind"]] + (" — " + conv["care_case_ref"] if conv.get("care_case_ref") else "")


def render_index(org: dict[str, Any], people: list[dict[str, Any]], conversations: list[dict[str, Any]],
                 exported_at: str) -> str:
    return _INDEX.render(org=org, people=people, conversations=conversations, exported_at=exported_at,
                         kinds=KINDS, style=_STYLE)


def render_conversation(org: dict[str, Any], conv: dict[str, Any], members: list[str],
                        entries: list[dict[str, Any]], names: dict[str, str],
                        handovers: list[dict[str, Any]] | None = None) -> str:
    """``handovers``: a care case's handover notes, as in ``data/handovers.jsonl``."""
    return _CONVERSATION.render(org=org, c=conv, members=members, entries=entries, names=names, kinds=KINDS,
                                style=_STYLE, handovers=handovers or [])
