"""The published JSON Schema of an organisation export (``docs/export-schema/``).

Every line of every ``data/*.jsonl`` file is one record with a ``record`` field naming its type.
The schema is kept in code so that the exporter and the published file cannot drift apart
(a test compares them)."""

from __future__ import annotations

from typing import Any

FORMAT = "chevet-export-2"
READABLE_FORMATS = ("chevet-export-1", FORMAT)
"""What import accepts: version 1 is version 2 without the report records and files."""
SCHEMA_ID = "https://chevet.invalid/schema/chevet-export-2.schema.json"

_UUID = {"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}
_OPT_UUID = {"anyOf": [_UUID, {"type": "null"}]}
_TIME = {"type": "string", "format": "date-time"}
_OPT_TIME = {"anyOf": [_TIME, {"type": "null"}]}
_INT = {"type": "integer"}
_OPT_INT = {"anyOf": [_INT, {"type": "null"}]}
_STR = {"type": "string"}
_OPT_STR = {"anyOf": [_STR, {"type": "null"}]}
_STRS = {"type": "array", "items": _STR}
_BOOL = {"type": "boolean"}


def _object(props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": list(props), "properties": props}


def _record(name: str, description: str, props: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """``optional``: fields added after the format was published (older archives lack them)."""
    return {"type": "object", "description": description, "additionalProperties": False,
            "required": ["record", *(p for p in props if p not in optional)],
            "properties": {"record": {"const": name}, **props}}


SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "Chevet organisation export, format chevet-export-2",
    "description": "One JSON object per line in data/*.jsonl. Times are ISO 8601 in UTC. Texts are the "
                   "decrypted content as people wrote it.",
    "oneOf": [{"$ref": f"#/$defs/{n}"} for n in ("organisation", "person", "team", "conversation", "member",
                                                  "entry", "attachment", "retention_policy", "breach", "report",
                                                  "report_designation", "report_retention", "handover",
                                                  "handover_template", "alert", "alert_event", "alert_ladder",
                                                  "roster_shift", "roster_role", "roster_assignment")],
    "$defs": {
        "organisation": _record("organisation", "data/organisation.jsonl: the organisation (one line).", {
            "id": _UUID, "slug": _STR, "name": _STR, "created_at": _TIME}),
        "person": _record("person", "data/people.jsonl: every account. Credentials are never exported.", {
            "id": _UUID, "email": _STR, "name": _STR, "role": _STR, "status": _STR, "rpps": _OPT_STR,
            "language": _STR, "created_at": _TIME}),
        "team": _record("team", "data/teams.jsonl: teams and their members.", {
            "id": _UUID, "name": _STR, "created_at": _TIME, "member_ids": {"type": "array", "items": _UUID}}),
        "conversation": _record("conversation", "data/conversations.jsonl: conversations with their retention "
                                                "settings. `last_seq` is the position of the last log entry.", {
            "id": _UUID, "kind": {"enum": ["direct", "group", "team", "care_case"]}, "title": _STR,
            "care_case_ref": _OPT_STR, "team_id": _OPT_UUID, "created_by": _OPT_UUID, "created_at": _TIME,
            "last_seq": _INT, "last_activity": _TIME, "direct_pair": _OPT_STR,
            "retention_days": _OPT_INT, "legal_hold": {"type": "boolean"}, "closed_at": _OPT_TIME}),
        "member": _record("member", "data/members.jsonl: who is in which conversation, with read state "
                                    "(`read_seq`) and the first entry they may see (`visible_from_seq`).", {
            "conversation_id": _UUID, "person_id": _UUID, "is_owner": {"type": "boolean"},
            "visible_from_seq": _INT, "read_seq": _INT, "joined_at": _TIME}),
        "entry": _record("entry", "data/entries.jsonl: every conversation's log in order. kind: message, "
                                  "edit (body = the text before the edit), delete, member_added, "
                                  "member_removed, created. A message's body is its current text.", {
            "conversation_id": _UUID, "seq": _INT, "id": _UUID,
            "kind": {"enum": ["message", "edit", "delete", "member_added", "member_removed", "created"]},
            "author_id": _OPT_UUID, "created_at": _TIME, "body": _OPT_STR,
            "urgent": {"type": "boolean"}, "edited": {"type": "boolean"}, "deleted": {"type": "boolean"},
            "has_attachments": {"type": "boolean"},
            "edited_at": _OPT_TIME, "reply_to_seq": _OPT_INT, "target_seq": _OPT_INT, "subject_id": _OPT_UUID,
            "mentions": {"type": "array", "items": _UUID}}),
        "attachment": _record("attachment", "data/attachments.jsonl: files attached to messages, decrypted in "
                                            "attachments/<conversation id>/ (`files`: content, and thumbnail or "
                                            "original when stored), with their original name; "
                                            "`uploader_id` null: a document received over MSSanté.", {
            "id": _UUID, "conversation_id": _UUID, "message_id": _OPT_UUID, "uploader_id": _OPT_UUID,
            "created_at": _TIME, "kind": _STR, "mime": _STR, "size": _INT, "uploaded_size": _INT,
            "width": _OPT_INT, "height": _OPT_INT, "name": _STR,
            "files": {"type": "object", "additionalProperties": False, "required": ["content"],
                      "properties": {"content": _STR, "thumbnail": _STR, "original": _STR}}}),
        "retention_policy": _record("retention_policy", "data/retention_policies.jsonl: the organisation's "
                                                        "rules per conversation kind (days).", {
            "kind": _STR, "days": _INT, "min_days": _INT, "max_days": _INT}),
        "breach": _record("breach", "data/breaches.jsonl: the personal-data breach log.", {
            "id": _UUID, "discovered_at": _TIME, "recorded_at": _TIME, "recorded_by": _OPT_UUID,
            "nature": _STR, "data_categories": _STR, "people_affected": _OPT_INT, "consequences": _STR,
            "measures": _STR, "authority_notified_at": _OPT_TIME, "people_notified_at": _OPT_TIME,
            "closed_at": _OPT_TIME, "records_affected": _OPT_INT, "late_reason": _STR}, optional=(
                "records_affected", "late_reason")),
        "report": _record("report", "data/reports.jsonl: adverse-event reports (signalements), decrypted, with "
                                    "everything that hangs off them; their files are in reports/<report id>/ "
                                    "under their ids. `mode`: named (`reporter_id` set), confidential "
                                    "(`confidential_reporter_id`, which only quality leads may be shown) or "
                                    "anonymous (no reporter, no file names). Follow-up codes are not exported.", {
            "id": _UUID, "mode": {"enum": ["named", "confidential", "anonymous"]}, "reporter_id": _OPT_UUID,
            "confidential_reporter_id": _OPT_UUID, "status": _STR, "team_id": _OPT_UUID, "received_at": _TIME,
            "content": _object({"what": _STR, "occurred_at": _TIME, "discovered_at": _TIME, "place": _STR,
                                "affected_refs": _STRS, "affected_count": _INT, "immediate_measures": _STR}),
            "severity": _OPT_STR, "categories": _STRS, "eigs": _STRS, "security": _STRS, "gdpr_breach": _BOOL,
            "awareness_at": _OPT_TIME, "qualified_at": _OPT_TIME, "qualified_by": _OPT_UUID, "note": _OPT_STR,
            "analysis": {"anyOf": [{"type": "object"}, {"type": "null"}]}, "feedback": _OPT_STR,
            "feedback_at": _OPT_TIME, "closed_at": _OPT_TIME, "conversation_id": _OPT_UUID,
            "readers": {"type": "array", "items": _UUID},
            "actions": {"type": "array", "items": _object({
                "id": _UUID, "title": _STR, "owner_id": _OPT_UUID, "due_at": _OPT_TIME, "done_at": _OPT_TIME,
                "created_at": _TIME})},
            "forms": {"type": "array", "items": _object({
                "kind": _STR, "status": {"enum": ["draft", "validated"]}, "values": {"type": "object"},
                "updated_at": _TIME, "validated_by": _OPT_UUID, "validated_at": _OPT_TIME})},
            "submissions": {"type": "array", "items": _object({
                "id": _UUID, "kind": _STR, "at": _TIME, "channel": _STR, "reference": _STR,
                "recorded_by": _UUID})},
            "reminders": {"type": "object", "additionalProperties": _STR},
            "files": {"type": "array", "items": _object({
                "id": _UUID, "position": _INT, "kind": _STR, "mime": _STR, "size": _INT, "width": _OPT_INT,
                "height": _OPT_INT, "name": _OPT_STR, "path": _STR})}}),
        "report_designation": _record("report_designation", "data/report_designations.jsonl: who handles "
                                                            "reports (quality_lead, director).", {
            "person_id": _UUID, "function": _STR}),
        "report_retention": _record("report_retention", "data/report_retention.jsonl: the organisation's "
                                                        "retention period per report record type (days).", {
            "record_type": _STR, "days": _INT}),
        "handover": _record("handover", "data/handovers.jsonl: handover notes (transmissions ciblées) written "
                                        "in care cases for the next shift, decrypted: the target and the DAR "
                                        "fields (données, actions, résultats); who confirmed reading it and when; "
                                        "`flagged_at`: when it was flagged late to the nurse managers.", {
            "id": _UUID, "conversation_id": _UUID, "team_id": _OPT_UUID, "author_id": _UUID, "created_at": _TIME,
            "shift_name": _STR, "shift_starts_at": _TIME, "shift_ends_at": _TIME, "target": _STR, "data": _STR,
            "actions": _STR, "results": _STR, "confirmed_by": _OPT_UUID, "confirmed_at": _OPT_TIME,
            "flagged_at": _OPT_TIME}),
        "handover_template": _record("handover_template", "data/handover_templates.jsonl: the templates a team "
                                                          "set for its handover notes, in order (teams without "
                                                          "any use the defaults).", {
            "team_id": _UUID, "position": _INT, "name": _STR, "target": _STR, "prompt_data": _STR,
            "prompt_actions": _STR, "prompt_results": _STR}),
        "alert": _record("alert", "data/alerts.jsonl: urgent alerts raised by a message (`message_id`, "
                                  "`message_seq` in its conversation): `target` (person:<id>, role:<address>, "
                                  "on_call:<team id>), `state` (open, acknowledged), the ladder `step` reached, "
                                  "when the next is `due_at`, who was notified (`targeted`, `current`), and "
                                  "who acknowledged it, when, how (`ack`: taken « Je m'en occupe », seen « Vu, "
                                  "pas d'action »).", {
            "id": _UUID, "conversation_id": _UUID, "message_id": _UUID, "message_seq": _INT, "team_id": _OPT_UUID,
            "raised_by": _UUID, "raised_at": _TIME, "target": _STR, "state": _STR, "step": _INT, "due_at": _OPT_TIME,
            "targeted": {"type": "array", "items": _UUID}, "current": {"type": "array", "items": _UUID},
            "late": _BOOL, "acknowledged_by": _OPT_UUID, "acknowledged_at": _OPT_TIME, "ack": _OPT_STR}),
        "alert_event": _record("alert_event", "data/alert_events.jsonl: each alert's timeline, in order: raised, "
                                              "notified, escalated, nobody (a step with nobody available), "
                                              "exhausted, acknowledged; `people` notified at that step.", {
            "id": _UUID, "alert_id": _UUID, "at": _TIME, "kind": _STR, "step": _INT,
            "people": {"type": "array", "items": _UUID}, "actor_id": _OPT_UUID, "ack": _OPT_STR}),
        "alert_ladder": _record("alert_ladder", "data/alert_ladders.jsonl: escalation ladders set for a team "
                                                "(`scope_id` a team's id) or the organisation's default (its "
                                                "own id): delays in minutes by day and by night, night hours "
                                                "in minutes after midnight, Europe/Paris, and the steps.", {
            "scope_id": _UUID, "day_minutes": _INT, "night_minutes": _INT, "night_starts": _INT,
            "night_ends": _INT, "steps": _STRS}),
        "roster_shift": _record("roster_shift", "data/roster_shifts.jsonl: a team's shifts (« Jour », « Nuit »), "
                                                "in minutes after midnight, Europe/Paris wall-clock time; an end "
                                                "at or before the start is the next day.", {
            "id": _UUID, "team_id": _UUID, "name": _STR, "starts_minute": _INT, "ends_minute": _INT,
            "created_at": _TIME}),
        "roster_role": _record("roster_role", "data/roster_roles.jsonl: role addresses people write to "
                                              "(`@garde`): the folded slug and its label.", {
            "id": _UUID, "slug": _STR, "label": _STR, "team_id": _OPT_UUID, "created_at": _TIME}),
        "roster_assignment": _record("roster_assignment", "data/roster_assignments.jsonl: who is on duty "
                                                          "(`duty`) or on call (`on_call`) for a team over "
                                                          "[starts_at, ends_at), the shift it was made from, "
                                                          "the role address held, the on-call rank (1 first).", {
            "id": _UUID, "team_id": _UUID, "person_id": _UUID, "kind": _STR, "starts_at": _TIME, "ends_at": _TIME,
            "shift_id": _OPT_UUID, "role_id": _OPT_UUID, "rank": _INT, "created_at": _TIME,
            "created_by": _OPT_UUID}),
    },
}
