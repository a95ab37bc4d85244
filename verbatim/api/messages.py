"""The catalogue of error codes and their messages in French and English, shared by the API and the pages.

Every error the API answers carries a stable ``code`` beside its (English, detailed) ``error`` message; the
pages fetch this catalogue (``GET /web/messages.json``) and show the message of the code in the page's
language, with ``{field}`` filled in when the API names the faulty field. One catalogue, so that a new error
has its French message in one place, and a test checks that every code has both languages.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["FIELD_NAMES", "MESSAGES", "PLURALS", "field_of", "message", "plural", "plural_category"]

MESSAGES: Final[dict[str, dict[str, str]]] = {
    "not_authenticated": {
        "fr": "Jeton absent ou invalide : reconnectez-vous.",
        "en": "Missing or invalid token: sign in again.",
    },
    "permission_denied": {
        "fr": "Votre rôle ne permet pas cette action.",
        "en": "Your role does not allow this.",
    },
    "job_not_found": {
        "fr": "Transcription introuvable (supprimée, ou d'une autre unité).",
        "en": "Transcript not found (deleted, or another unit's).",
    },
    "object_not_found": {
        "fr": "Ce fichier n'est plus disponible (supprimé ou purgé selon la durée de conservation).",
        "en": "This file is no longer available (deleted or purged by the retention period).",
    },
    "job_not_ready": {
        "fr": "La transcription n'est pas encore prête : réessayez quand elle sera terminée.",
        "en": "The transcript is not ready yet: try again when it has finished.",
    },
    "edit_conflict": {
        "fr": "Le texte a été modifié entre-temps : rechargez la page puis recommencez.",
        "en": "The text was changed meanwhile by someone else: reload the page and try again.",
    },
    "revert_blocked": {
        "fr": "Une correction plus récente s'appuie sur celle-ci : annulez d'abord la plus récente.",
        "en": "A later correction stands on this one: revert the later one first.",
    },
    "legal_hold": {
        "fr": "Cette transcription est sous scellé judiciaire : elle ne peut pas être supprimée.",
        "en": "This transcript is on legal hold: it cannot be deleted.",
    },
    "too_large": {
        "fr": "Le fichier dépasse la taille maximale acceptée par le serveur.",
        "en": "The file is larger than the server accepts.",
    },
    "audio_limit": {
        "fr": "Enregistrement lisible mais hors des limites (fréquence, nombre de canaux ou durée).",
        "en": "Readable recording, but out of the accepted bounds (sample rate, channels or duration).",
    },
    "audio_unreadable": {
        "fr": "Ce fichier n'est pas un enregistrement audio ou vidéo lisible (ou il est vide).",
        "en": "This file is not a readable audio or video recording (or it is empty).",
    },
    "invalid_option": {
        "fr": "Valeur refusée pour « {field} » : vérifiez ce champ.",
        "en": "Value refused for '{field}': check this field.",
    },
    "invalid_request": {
        "fr": "Requête refusée : un champ est absent ou mal formé.",
        "en": "Request refused: a field is missing or malformed.",
    },
    "wait_timeout": {
        "fr": "Le traitement prend plus de temps que prévu : suivez-le dans la liste des transcriptions.",
        "en": "Processing takes longer than expected: follow it in the list of transcripts.",
    },
    "retranslate_timeout": {
        "fr": "La retraduction n'a pas abouti à temps (serveurs de traitement occupés ou arrêtés). Si elle "
        "s'achève plus tard, elle sera enregistrée et apparaîtra en rechargeant la page : rechargez avant de "
        "réessayer.",
        "en": "The segment was not translated again in time (processing servers busy or stopped). If it "
        "completes later, it will be recorded and show when the page is reloaded: reload before trying "
        "again.",
    },
    "model_unavailable": {
        "fr": "Un modèle nécessaire est absent ou altéré sur le serveur : prévenez l'administrateur.",
        "en": "A model needed is missing or altered on the server: tell the administrator.",
    },
    "document_engine": {
        "fr": "Le PDF ne peut pas être produit sur ce serveur (LibreOffice absent) : choisissez ODT ou DOCX.",
        "en": "The PDF cannot be made on this server (LibreOffice missing): choose ODT or DOCX.",
    },
    "service_unavailable": {
        "fr": "Service momentanément indisponible : réessayez dans quelques instants.",
        "en": "Service temporarily unavailable: try again in a moment.",
    },
    "voice_not_found": {
        "fr": "Voix introuvable (supprimée, ou d'une autre unité).",
        "en": "Voice not found (removed, or another unit's).",
    },
    "voice_exists": {
        "fr": "Votre unité a déjà enregistré une voix sous ce nom : supprimez-la d'abord ou changez le nom.",
        "en": "Your unit already enrolled a voice under this name: remove it first or change the name.",
    },
    "voice_enrolment": {
        "fr": "Enregistrement inutilisable pour reconnaître la voix : pas assez de parole (6 secondes au "
        "moins, la personne parlant seule).",
        "en": "Recording unusable to enrol the voice: not enough speech (6 seconds at least, the person "
        "speaking alone).",
    },
    "not_found": {"fr": "Adresse inconnue.", "en": "Unknown address."},
    "rate_limited": {
        "fr": "Trop de requêtes : patientez un instant puis réessayez.",
        "en": "Too many requests: wait a moment and try again.",
    },
    "internal": {
        "fr": "Erreur interne du serveur : l'identifiant de la requête la retrouve dans les journaux.",
        "en": "Internal server error: the request id finds it in the logs.",
    },
}
"""Code -> language -> message; ``{field}`` is the name of the field the API refused (in French for a
known request field, see :data:`FIELD_NAMES`)."""

PLURALS: Final[dict[str, dict[str, dict[str, str]]]] = {
    "corrections_count": {
        "fr": {"one": "{n} correction", "other": "{n} corrections"},
        "en": {"one": "{n} correction", "other": "{n} corrections"},
    },
    "words_selected": {
        "fr": {"one": "{n} mot sélectionné", "other": "{n} mots sélectionnés"},
        "en": {"one": "{n} word selected", "other": "{n} words selected"},
    },
    "words_deleted": {
        "fr": {"one": "{n} mot supprimé (enregistré dans l'historique).", "other": "{n} mots supprimés "
               "(enregistrés dans l'historique)."},
        "en": {"one": "{n} word deleted (recorded in the history).", "other": "{n} words deleted (recorded "
               "in the history)."},
    },
    "jobs_count": {
        "fr": {"one": "{n} transcription", "other": "{n} transcriptions"},
        "en": {"one": "{n} transcript", "other": "{n} transcripts"},
    },
}  # fmt: skip
"""Messages that depend on a number: key -> language -> CLDR plural category (``one``, ``other``...) -> text.
The category of a number is the language's CLDR rule (babel on the server, the browser's
``Intl.PluralRules``, CLDR too, on the pages): French says "0 correction", English "0 corrections"."""


def plural_category(n: int, lang: str = "fr") -> str:
    """The CLDR plural category of ``n`` in ``lang`` (babel's rules): ``one``, ``few``, ``other``..."""
    from babel import Locale

    category: str = Locale.parse(lang).plural_form(abs(n))
    return category


def plural(key: str, n: int, lang: str = "fr") -> str:
    """The catalogue's message ``key`` for the number ``n`` in ``lang`` (French by default)."""
    forms = PLURALS[key].get(lang, PLURALS[key]["fr"])
    text = forms.get(plural_category(n, lang), forms["other"])
    return text.replace("{n}", str(n))


FIELD_NAMES: Final[dict[str, str]] = {
    "language": "langue",
    "languages": "langues parlées",
    "task": "tâche",
    "diarize": "distinguer les locuteurs",
    "voices": "nommer les voix connues",
    "pseudonymize": "copie pseudonymisée",
    "prompt": "consigne de transcription",
    "vocabulary": "vocabulaire de l'affaire",
    "hide": "mots à masquer",
    "num_speakers": "nombre de locuteurs",
    "min_speakers": "nombre minimal de locuteurs",
    "max_speakers": "nombre maximal de locuteurs",
    "channels": "canaux",
    "pseudonymization_policy": "politique de pseudonymisation",
    "translate_to": "traduire vers",
    "case_number": "numéro de procédure",
    "hearing_place": "lieu de l'audition",
    "hearing_date": "date de l'audition",
    "persons_present": "personnes présentes",
    "line_numbers": "numéros de ligne",
    "file": "fichier",
    "after": "nouvelle valeur",
    "edit_id": "correction",
    "word_index": "position du mot",
    "format": "format",
    "name": "nom",
    "role": "fonction",
    "recordings": "enregistrements de la voix",
    "voice_id": "voix",
}
"""The French names of the request's fields, for ``{field}``."""

_FIELD = re.compile(r"^([a-z_][a-z0-9_.]*):")


def field_of(message: str) -> str | None:
    """The field an API message names first (``language: Unknown language 'xx'`` -> ``language``)."""
    match = _FIELD.match(message)
    return match.group(1).split(".")[-1] if match else None


def message(code: str, lang: str = "fr", field: str | None = None) -> str:
    """The catalogue's message for ``code`` in ``lang`` (French by default), ``{field}`` filled in."""
    entry = MESSAGES.get(code, MESSAGES["internal"])
    text = entry.get(lang, entry["fr"])
    name = FIELD_NAMES.get(field or "", field or "?") if lang == "fr" else (field or "?")
    return text.replace("{field}", name)
