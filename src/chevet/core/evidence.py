"""The evidence table for auditors: each obligation a DPO, a director or an evaluator asks
about, the Chevet feature that answers it, where it is documented, and the automated tests
that prove it.

This module is the one place the table lives. ``docs/compliance.md`` holds the table as
``markdown()`` renders it (a test compares them), the console page ``/gouvernance/preuves``
shows the same rows, and a test checks that every test named here exists. The words a person
reads (the obligation, the answer) are catalog strings ``evidence.<key>.obligation`` and
``evidence.<key>.answer``, in French and English; the references are the names of the texts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Obligation:
    key: str
    framework: str
    reference: str
    docs: tuple[str, ...]
    tests: tuple[str, ...]
    console: str | None = None  # the console page where the feature is seen

    @property
    def obligation_id(self) -> str:
        return f"evidence.{self.key}.obligation"

    @property
    def answer_id(self) -> str:
        return f"evidence.{self.key}.answer"


GDPR = "RGPD (règlement (UE) 2016/679)"
HDS = "HDS (référentiel de certification 2024)"
HAS = "HAS (référentiel d'évaluation de la qualité des ESSMS, 2022)"

OBLIGATIONS: tuple[Obligation, ...] = (
    Obligation(
        "pgssi_identification", "PGSSI-S",
        "Référentiel d'identification électronique des acteurs des secteurs sanitaire et médico-social "
        "(arrêté du 28 mars 2022)",
        ("docs/identity.md", "docs/security.md"),
        ("tests/integration/test_authentication.py::test_password_alone_never_signs_in",
         "tests/integration/test_authentication.py::test_lockout_after_repeated_failures",
         "tests/unit/test_totp.py::test_verify_accepts_adjacent_steps_and_refuses_replay",
         "tests/integration/test_psc.py::test_psc_login_rules"),
        "/admin/people"),
    Obligation(
        "pgssi_imputability", "PGSSI-S", "Référentiel d'imputabilité",
        ("docs/governance.md#1-the-audit-trail", "docs/governance.md#the-witness-outside-the-database"),
        ("tests/integration/test_audit_trail.py::test_every_state_change_is_chained_and_verifies",
         "tests/integration/test_audit_witness.py::test_a_tail_cut_with_its_head_and_its_checkpoints_is_named",
         "tests/integration/test_audit_witness.py::test_every_chain_erased_is_named",
         "tests/integration/test_audit_trail.py::test_an_altered_entry_is_named",
         "tests/integration/test_audit_trail.py::test_a_removed_tail_is_detected",
         "tests/integration/test_governance_audit.py::test_a_rebuilt_chain_and_a_forged_checkpoint_are_caught",
         "tests/unit/test_audit_chain.py::test_rewriting_with_recomputed_hashes_is_caught_by_the_head_hash"),
        "/gouvernance/traces"),
    Obligation(
        "cnil_logging", "CNIL",
        "Recommandation relative aux mesures de journalisation (2021) ; référentiel ESSMS (délibération 2021-028)",
        ("docs/governance.md#2-access-traces-dpo-and-managers", "docs/governance.md#retention-of-the-audit-trail"),
        ("tests/integration/test_conversations.py::test_care_case_reads_are_audited",
         "tests/integration/test_governance_audit.py::test_dpo_sees_who_read_a_care_case_and_nobody_else_can",
         "tests/integration/test_console_traces.py::test_the_dpo_finds_who_read_a_care_case_by_its_reference",
         "tests/browser/test_console.py::test_the_dpo_walks_to_the_traces_of_a_care_case",
         "tests/integration/test_governance_audit.py::test_pruning_keeps_the_chain_verifiable",
         "tests/security/test_log_secrets.py::test_no_secret_and_no_query_string_in_the_server_log"),
        "/gouvernance/traces"),
    Obligation(
        "gdpr_access", GDPR, "Article 15 : droit d'accès de la personne concernée",
        ("docs/governance.md#4-gdpr-rights-and-duties",),
        ("tests/integration/test_governance_gdpr.py::test_subject_access_holds_everything_of_the_person_and_nothing_of_others",
         "tests/integration/test_governance_gdpr.py::test_self_service_and_dpo_api")),
    Obligation(
        "gdpr_erasure", GDPR, "Article 17 : droit à l'effacement",
        ("docs/governance.md#4-gdpr-rights-and-duties", "docs/backup.md"),
        ("tests/integration/test_governance_gdpr.py::test_anonymising_a_departed_colleague_keeps_the_care_content",
         "tests/integration/test_governance_gdpr.py::test_after_anonymisation_no_audit_entry_reveals_her_addresses",
         "tests/integration/test_governance_backup.py::test_shredded_content_is_unrecoverable_from_an_earlier_backup")),
    Obligation(
        "gdpr_register", GDPR, "Article 30 : registre des activités de traitement",
        ("docs/governance.md#4-gdpr-rights-and-duties",),
        ("tests/integration/test_governance_gdpr.py::test_self_service_and_dpo_api",
         "tests/integration/test_web_push.py::test_the_processing_register_names_the_push_services_and_what_they_learn",
         "tests/integration/test_governance_register_console.py::test_register_reads_in_french_and_prints"),
        "/gouvernance/registre"),
    Obligation(
        "gdpr_breach", GDPR, "Article 33 : notification d'une violation de données à la CNIL",
        ("docs/governance.md#4-gdpr-rights-and-duties",),
        ("tests/integration/test_governance_gdpr.py::test_breach_log_shows_the_72_hour_deadline",
         "tests/integration/test_governance_breach_console.py::test_breach_form_clock_and_late_notification"),
        "/gouvernance/violations"),
    Obligation(
        "hds_traceability", HDS, "Exigence 15 : traces d'accès consultables par le client",
        ("docs/governance.md#export-for-an-auditor", "docs/governance.md#receipts-the-dpo-keeps"),
        ("tests/integration/test_governance_audit.py::test_export_verifies_offline_and_tampering_is_named",
         "tests/integration/test_audit_receipt.py::test_a_receipt_from_the_console_proves_the_trail_until_it_is_cut",
         "tests/integration/test_governance_audit.py::test_an_export_of_one_period_verifies_on_its_own",
         "tests/integration/test_governance_audit.py::test_checkpoints_verify_and_catch_a_cut_tail_with_a_moved_head"),
        "/gouvernance/traces"),
    Obligation(
        "hds_reversibility", HDS, "Exigence 27 : réversibilité",
        ("docs/governance.md#5-reversibility-export-and-import", "docs/export-schema"),
        ("tests/integration/test_governance_archive.py::test_round_trip_reproduces_the_organisation_exactly",
         "tests/integration/test_governance_archive.py::test_archive_follows_its_published_schema",
         "tests/integration/test_governance_archive.py::test_html_browse_opens_in_chromium_without_a_server",
         "tests/integration/test_governance_archive.py::test_damaged_cut_or_duplicate_archives_import_nothing",
         "tests/integration/test_console_operations.py::test_export_runs_to_done_with_rising_progress_same_as_cli_and_imports_elsewhere")),
    Obligation(
        "hds_deletion", HDS, "Exigence 27 : destruction des données et de leurs copies",
        ("docs/governance.md#3-retention", "docs/backup.md"),
        ("tests/integration/test_governance_retention.py::test_as_of_deletes_exactly_what_the_policy_says",
         "tests/integration/test_governance_retention.py::test_expired_messages_and_shredded_conversations_take_their_files",
         "tests/unit/test_retention_purge.py::test_a_legal_hold_suspends_every_deletion_until_lifted",
         "tests/integration/test_governance_retention_console.py::test_preview_counts_what_the_new_period_deletes_and_leaves_held_conversations",
         "tests/integration/test_governance_backup.py::test_reports_purged_by_retention_do_not_come_back_from_an_older_backup"),
        "/gouvernance/conservation"),
    Obligation(
        "hds_client_keys", HDS,
        "Confidentialité des données de chaque client de l'hébergement : chiffrement et maîtrise des "
        "clés, destruction à la fin du contrat ; numéro de l'exigence à relever dans l'édition en vigueur",
        ("docs/keys.md", "docs/aipd.md", "docs/encryption.md"),
        ("tests/integration/test_organisation_keys_e2e.py::test_each_establishment_works_and_a_removed_token_stops_only_its_own",
         "tests/integration/test_organisation_keys_e2e.py::test_no_plaintext_and_no_key_in_the_database_the_blobs_or_the_backups",
         "tests/integration/test_organisation_key_rotation.py::test_file_to_token_and_back",
         "tests/integration/test_organisation_key_rotation.py::test_a_token_unavailable_mid_rotation_loses_nothing",
         "tests/integration/test_organisation_shred.py::test_shred_after_export_leaves_the_other_organisation_and_no_way_back",
         "tests/integration/test_organisation_shred.py::test_a_token_key_destroyed_leaves_even_the_old_key_backup_useless")),
    Obligation(
        "has_security", HAS,
        "Chapitre 3 « L'ESSMS » : sécurité du système d'information (confidentialité, disponibilité, "
        "intégrité) ; numéro du critère à relever dans l'édition en vigueur",
        ("docs/security.md", "docs/encryption.md", "docs/backup.md"),
        ("tests/integration/test_isolation.py::test_another_organisation_sees_nothing",
         "tests/unit/test_envelope.py::test_any_flipped_bit_is_detected",
         "tests/integration/test_durability.py::test_acknowledged_messages_survive_kill_9",
         "tests/integration/test_governance_backup.py::test_a_failed_restore_leaves_the_target_as_it_was")),
    Obligation(
        "has_sobriety", HAS,
        "Chapitre 3 « L'ESSMS » : démarche de développement durable et sobriété numérique ; numéro du "
        "critère à relever dans l'édition en vigueur",
        ("docs/sobriety.md",),
        ("tests/integration/test_sobriety.py::test_dashboard_shows_costs_and_savings_to_admin_and_dpo_only",
         "tests/integration/test_sobriety.py::test_a_configured_storage_factor_is_shown_with_its_source",
         "tests/integration/test_sobriety_page.py::test_the_french_dashboard_has_no_english_word_no_gb_and_no_utc_time"),
        "/admin/sobriety"),
    Obligation(
        "rgesn", "RGESN (référentiel général d'écoconception de services numériques, 2024)",
        "Critères 2.3 (bas débit), 5.1 et 5.2 (médias compressés), 5.8 et 7.2 (expiration des données, "
        "suivi de la croissance), 6.1 (poids et requêtes par écran)",
        ("docs/sobriety.md", "docs/attachments.md", "docs/performance.md"),
        ("tests/integration/test_media_and_blobs.py::test_a_4mb_phone_photo_is_stored_under_300_kb_without_gps",
         "tests/browser/test_files.py::test_phone_photo_is_resized_in_the_browser_and_reaches_the_other_member_on_a_slow_link",
         "tests/browser/test_quality.py::test_conversation_screen_first_load_budget",
         "tests/integration/test_governance_retention.py::test_as_of_deletes_exactly_what_the_policy_says"),
        "/admin/sobriety"),
)

BEGIN = "<!-- evidence table: generated from src/chevet/core/evidence.py (tools/compliance_table.py) -->"
END = "<!-- end of the evidence table -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(translate: Callable[[str], str], rows: Sequence[Obligation] = OBLIGATIONS) -> str:
    """The table as ``docs/compliance.md`` holds it, with ``translate`` giving the catalog texts
    (French in the document). Doc links are relative to ``docs/``."""
    out = [BEGIN, "",
           "| Cadre | Référence | Obligation | Réponse de Chevet (documentation) | Preuve automatisée |",
           "|---|---|---|---|---|"]
    for o in rows:
        links = ", ".join(f"[{d.removeprefix('docs/')}]({d.removeprefix('docs/')})" for d in o.docs)
        proofs = "<br>".join(f"`{t}`" for t in o.tests)
        out.append(f"| {_cell(o.framework)} | {_cell(o.reference)} | {_cell(translate(o.obligation_id))} | "
                   f"{_cell(translate(o.answer_id))} ({links}) | {proofs} |")
    out += ["", END]
    return "\n".join(out)
