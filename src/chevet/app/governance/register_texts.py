"""The words of the Art. 30 processing register, in French (the register's language) and in
English (for a reader who chose English). Kept beside the register so that what it says about
Chevet is written once per language, at its source, and never mixed."""

from __future__ import annotations

from chevet.core.conversation import ConversationKind

FR: dict[str, str] = {
    "purpose.care": "Coordination des soins et de l'accompagnement entre professionnels",
    "purpose.handover": "Transmissions entre équipes (relèves)",
    "purpose.traces": "Traçabilité des accès aux données de santé (sécurité, art. L.1111-8 CSP)",
    "legal_basis": "Art. 6(1)(e) et 9(2)(h) RGPD : prise en charge sanitaire et médico-sociale",
    "subjects.staff": "Professionnels et personnels de l'organisation",
    "subjects.patients": "Personnes accompagnées ou soignées (mentionnées dans les suivis patients)",
    "data.identity": "Identité professionnelle (nom, courriel, rôle, RPPS/ADELI)",
    "data.messages": "Messages et suivis patients, chiffrés au repos (données de santé)",
    "data.logs": "Journaux de connexion et d'accès (adresse IP, horodatage, action)",
    "recipients.members": "Membres de chaque conversation, dans l'organisation uniquement",
    "recipients.traces": "DPO et encadrement pour les traces d'accès",
    "recipients.hosting": "Hébergeur : {provider}",
    "recipients.push": "Services de notification des navigateurs ({services}) : un signal chiffré de bout en bout "
                       "(RFC 8291) et de taille fixe pour l'appareil, sans contenu de soin (ni texte de message, ni "
                       "nom de patient, ni titre de suivi)",
    "transfers.none": "Aucun",
    "transfers.push": "Notifications sur les appareils : un signal chiffré de bout en bout, sans contenu de soin, "
                      "transite par le service de notification du navigateur (Google, Apple, Mozilla, "
                      "Microsoft), qui peut être situé hors UE ; il ne peut pas le lire et n'apprend que "
                      "l'existence d'une notification pour un appareil, son heure et si elle est urgente. "
                      "Désactivable : réglage push.services = none, ou liste restreinte par l'administrateur",
    "missing": "(à renseigner : {setting})",
    "security.auth": "Authentification forte (mot de passe argon2id + TOTP) pour tous",
    "security.encryption": "Chiffrement AES-256-GCM des contenus avec une clé par conversation",
    "security.shredding": "Destruction cryptographique des conversations expirées",
    "security.audit": "Journal d'audit chaîné et points de contrôle signés (Ed25519)",
    "security.isolation": "Cloisonnement strict entre organisations",
    "security.third_party": "Aucune ressource tierce",
    "kind.team": "Canaux d'équipe",
    "kind.direct": "Messages privés",
    "kind.group": "Groupes",
    "kind.care_case": "Suivis patients (après clôture)",
    "kind.external": "Échanges MSSanté",
    "why.team": "les relèves perdent leur utilité en quelques semaines ; 90 jours couvrent un cycle de planning "
                "et les audits",
    "why.direct": "un an couvre les questions de suivi entre professionnels",
    "why.group": "les groupes ponctuels servent un projet ou une réunion ; six mois",
    "why.care_case": "conservé en entier tant que le suivi est ouvert ; après la clôture, le temps de reporter "
                     "l'essentiel au dossier du patient et de répondre aux questions",
    "why.external": "les courriers et résultats reçus par MSSanté ont leur place dans le dossier du patient ; un "
                    "an couvre l'échange qui les entoure",
}

EN: dict[str, str] = {
    "purpose.care": "Coordinating care and support between professionals",
    "purpose.handover": "Handovers between teams (shift changes)",
    "purpose.traces": "Tracing access to health data (security, art. L.1111-8 of the French public health code)",
    "legal_basis": "GDPR Art. 6(1)(e) and 9(2)(h): health and social care",
    "subjects.staff": "Professionals and staff of the organisation",
    "subjects.patients": "People cared for or supported (mentioned in care cases)",
    "data.identity": "Professional identity (name, email, role, RPPS/ADELI)",
    "data.messages": "Messages and care cases, encrypted at rest (health data)",
    "data.logs": "Sign-in and access logs (IP address, time, action)",
    "recipients.members": "Members of each conversation, within the organisation only",
    "recipients.traces": "DPO and management for access traces",
    "recipients.hosting": "Hosting provider: {provider}",
    "recipients.push": "Browsers' notification services ({services}): an end-to-end encrypted signal (RFC 8291) of "
                       "one fixed size for the device, without care content (no message text, no patient name, no "
                       "care-case title)",
    "transfers.none": "None",
    "transfers.push": "Notifications on devices: an end-to-end encrypted signal without content passes through the "
                      "browser's notification service (Google, Apple, Mozilla, Microsoft), which may be outside the "
                      "EU; it cannot read it and learns only that a device has a notification, when, and whether it "
                      "is urgent. Can be turned off: setting "
                      "push.services = none, or a list restricted by the administrator",
    "missing": "(to be filled in: {setting})",
    "security.auth": "Strong authentication (argon2id password + TOTP) for everyone",
    "security.encryption": "AES-256-GCM encryption of content with one key per conversation",
    "security.shredding": "Cryptographic destruction of expired conversations",
    "security.audit": "Chained audit log and signed checkpoints (Ed25519)",
    "security.isolation": "Strict isolation between organisations",
    "security.third_party": "No third-party resource",
    "kind.team": "Team channels",
    "kind.direct": "Direct messages",
    "kind.group": "Groups",
    "kind.care_case": "Care cases (after closing)",
    "kind.external": "MSSanté exchanges",
    "why.team": "shift handovers lose their use within weeks; 90 days covers a rota cycle and audits",
    "why.direct": "one year covers follow-up questions between professionals",
    "why.group": "ad hoc groups serve a project or a meeting; six months",
    "why.care_case": "kept whole while the case is open; after closing, time to copy what matters to the patient "
                     "record and answer questions",
    "why.external": "letters and results received over MSSanté belong in the patient record; one year covers the "
                    "exchange around them",
}

assert FR.keys() == EN.keys()
assert all(f"kind.{k.value}" in FR and f"why.{k.value}" in FR for k in ConversationKind)


def texts(lang: str) -> dict[str, str]:
    return EN if lang == "en" else FR
