"""Replacement: consistent aliases across forms, segments and the translation; operators; purity."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest

from verbatim.anonymize import get_policy, pseudonymize_text, pseudonymize_transcript
from verbatim.anonymize.analyzer import default_analyzer
from verbatim.anonymize.crypto import decrypt_document, decrypt_token, encrypt_token
from verbatim.anonymize.policy import Policy, load_policy
from verbatim.errors import InvalidOptionError
from verbatim.pipeline.types import Segment, Transcript, Word

RULES_ONLY = default_analyzer(ner=False)
KEY = bytes(range(32))


def copy_of(text: str, policy: str = "hearing") -> str:
    result, _ = pseudonymize_text(text, get_policy(policy), analyzer=RULES_ONLY)
    return result.text


def test_one_person_one_alias_whatever_the_form() -> None:
    text = (
        "Je m'appelle Julie Martin. Julie a neuf ans. Mme Martin est sa mère. MARTIN Julie signe. "
        "Ça s'écrit M-A-R-T-I-N. Mon beau-père Kévin Dubois crie."
    )
    out = copy_of(text)
    for original in ("Julie", "Martin", "MARTIN", "M-A-R-T-I-N", "Kévin", "Dubois"):
        assert original not in out, out
    first = out.split("Je m'appelle ")[1].split(".")[0]  # "<First> <Last>"
    alias_first, alias_last = first.split()
    assert f"{alias_first} a neuf ans" in out
    assert f"Mme {alias_last} est sa mère" in out
    assert f"{alias_last.upper()} {alias_first} signe" in out
    assert "-".join(alias_last.upper()) in out  # spelled the same way
    assert alias_first != alias_last


def test_accents_and_case_do_not_split_a_person() -> None:
    out = copy_of("Je m'appelle Kévin Lefèvre. Plus tard Kevin est revenu et M. LEFEVRE aussi.")
    alias = out.split("Je m'appelle ")[1].split(".")[0].split()
    assert f"Plus tard {alias[0]} est revenu" in out
    assert f"M. {alias[1].upper()} aussi" in out


def test_professionals_stay_named_parties_do_not() -> None:
    out = copy_of("Le brigadier Lefort entend Julie. Je m'appelle Julie Martin. Maître Lefèvre est présent.")
    assert "Lefort" in out and "Lefèvre" in out
    assert "Julie" not in out and "Martin" not in out


def test_open_data_policy_uses_letters_and_redacts_contacts() -> None:
    out = copy_of("Je m'appelle Julie Martin, mon numéro est le 06 12 34 56 78. Mme Martin.", "open-data")
    assert "[A] [B]" in out and "Mme [B]" in out
    assert "[Téléphone]" in out and "06" not in out


def test_numbered_aliases_follow_the_value_not_its_writing() -> None:
    out = copy_of(
        "Appelez le 06 12 34 56 78, ou le zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit."
    )
    assert out.count("[Téléphone 1]") == 2


def test_mask_redact_and_reversible_encryption() -> None:
    text = "Je m'appelle Julie Martin, écrivez à julie.martin@exemple.fr."
    policy = Policy(
        name="test",
        description="",
        operators=load_policy("hearing").operators | {"PER": "mask", "EMAIL": "encrypt"},  # type: ignore[arg-type]
    )
    with pytest.raises(InvalidOptionError):
        pseudonymize_text(text, policy, analyzer=RULES_ONLY)
    result, mapping = pseudonymize_text(text, policy, analyzer=RULES_ONLY, key=KEY)
    assert "Je m'appelle XXXXX XXXXXX" in result.text
    token = next(r.replacement for r in result.replacements if r.category == "EMAIL")
    assert token.startswith("⟦") and "julie" not in token
    assert decrypt_token(KEY, token, category="EMAIL") == "julie.martin@exemple.fr"
    assert encrypt_token(KEY, "julie.martin@exemple.fr", category="EMAIL") == token  # consistent
    assert mapping.key_id is not None
    redacted = Policy(
        name="r", description="", operators=load_policy("hearing").operators | {"PER": "redact"}
    )  # type: ignore[arg-type]
    assert pseudonymize_text(text, redacted, analyzer=RULES_ONLY)[0].text.startswith(
        "Je m'appelle [Personne]"
    )


def test_the_table_is_encrypted_and_refuses_another_key() -> None:
    _, mapping = pseudonymize_text("Je m'appelle Julie Martin.", get_policy("hearing"), analyzer=RULES_ONLY)
    sealed = mapping.encrypt(KEY, context="job-1")
    assert b"Julie" not in sealed and b"Martin" not in sealed
    document = decrypt_document(KEY, sealed)
    originals = {o for e in document["entries"] for o in e["originals"]}
    assert {"Julie", "Martin"} <= originals
    from verbatim.anonymize.crypto import KeyError_

    with pytest.raises(KeyError_):
        decrypt_document(bytes(32), sealed)
    tampered = sealed.replace(b'"context": "job-1"', b'"context": "job-2"')
    with pytest.raises(KeyError_):
        decrypt_document(KEY, tampered)


@dataclass(frozen=True)
class _Translation:
    language: str
    text: str
    model: str = "test"


@dataclass(frozen=True)
class _TranslatedSegment(Segment):
    """A segment with the translation field the translation stage adds (verbatim.pipeline.types)."""

    translation: Any = None


def _words(text: str, start: float, step: float = 0.5) -> tuple[Word, ...]:
    return tuple(
        Word(start + i * step, start + (i + 1) * step - 0.05, (" " if i else "") + w, 0.9)
        for i, w in enumerate(text.split())
    )


def _transcript() -> Transcript:
    lines = [
        ("Je m'appelle Julie Martin.", "My name is Julie Martin."),
        ("Mon beau-père Kévin me frappe.", "My stepfather Kévin hits me."),
        ("Julie habite 12 rue des Lilas.", "Julie lives at 12 rue des Lilas."),
        ("Mme Martin le sait.", "Mrs Martin knows."),
    ]
    segments = []
    start = 0.0
    for i, (fr, en) in enumerate(lines):
        words = _words(fr, start)
        segments.append(
            _TranslatedSegment(
                id=i,
                start=start,
                end=words[-1].end,
                text=fr,
                words=words,
                speaker="SPEAKER_00",
                language="fr",
                translation=_Translation("en", en),
            )
        )
        start = words[-1].end + 1.0
    return Transcript(
        language="fr", duration=start, segments=tuple(segments), audio_sha256="ab" * 32,
        filename="audition-julie-martin.wav", speakers={"SPEAKER_00": "Julie Martin"},
    )  # fmt: skip


def test_transcript_and_translation_share_aliases_and_input_is_untouched() -> None:
    transcript = _transcript()
    before = copy.deepcopy(transcript)
    copy_, mapping = pseudonymize_transcript(transcript, get_policy("hearing"), analyzer=RULES_ONLY)
    assert transcript == before  # pure
    french = " ".join(s.text for s in copy_.segments)
    english = " ".join(s.translation.text for s in copy_.segments)
    for original in ("Julie", "Martin", "Kévin", "Lilas"):
        assert original not in french and original not in english, (french, english)
    alias_first, alias_last = copy_.segments[0].text.removeprefix("Je m'appelle ").rstrip(".").split()
    assert copy_.segments[0].translation.text == f"My name is {alias_first} {alias_last}."
    assert copy_.segments[3].text == f"Mme {alias_last} le sait."
    assert copy_.segments[3].translation.text == f"Mrs {alias_last} knows."
    assert copy_.segments[2].translation.text.startswith(f"{alias_first} lives at [Address 1]")
    assert copy_.speakers == {"SPEAKER_00": f"{alias_first} {alias_last}"}
    assert copy_.filename == ""
    assert "Julie" not in " ".join(w.text for s in copy_.segments for w in s.words)
    assert mapping.counts["PER"] >= 6


def test_replaced_words_give_the_times_to_cover_in_the_audio() -> None:
    transcript = _transcript()
    copy_, mapping = pseudonymize_transcript(transcript, get_policy("hearing"), analyzer=RULES_ONLY)
    first = transcript.segments[0].words
    # "Julie Martin." are words 2 and 3 of the first segment: one interval from Julie's start to Martin's end.
    assert (first[2].start, first[3].end) in mapping.intervals
    words = copy_.segments[0].words
    assert words[-1].start == first[2].start and words[-1].end == first[3].end
    assert words[-1].text.endswith(".")
    kept = [w for w in words if w.text.strip() in ("Je", "m'appelle")]
    assert len(kept) == 2


def test_unknown_policy_is_refused_with_the_names() -> None:
    with pytest.raises(InvalidOptionError, match="hearing"):
        load_policy("nope")


def test_policy_file(tmp_path: Any) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"name": "mine", "base": "hearing", "operators": {"AGE": "redact"}}', encoding="utf-8")
    policy = load_policy(str(path))
    assert policy.operator_for("AGE") == "redact" and policy.operator_for("PER") == "pseudonym"
    bad = tmp_path / "bad.json"
    bad.write_text('{"operators": {"PER": "shred"}}', encoding="utf-8")
    with pytest.raises(InvalidOptionError, match="shred"):
        load_policy(str(bad))
