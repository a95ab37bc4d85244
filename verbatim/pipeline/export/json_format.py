"""The transcript JSON document (``"schema": "verbatim.transcript/1"``), both ways.

Times are rounded to the millisecond and probabilities to 4 decimals, so a transcript that already has that
precision survives ``transcript_from_dict(transcript_to_dict(t)) == t``. Beyond the schema's required keys a
segment carries its decoder scores (``avg_logprob``, ``no_speech_prob``, ``compression_ratio``) and a word
carries ``speaker`` only where it differs from its segment's, so the round trip is exact, and ``join``:
``" "`` when it starts a new word, ``""`` when it continues the previous one ("d" + "'accord"); a document
without ``join`` (written before it existed) reads as every word standing apart. A segment also
carries ``language_probability`` (per-segment language identification, ``null`` when not measured) and
``translation``: ``{"language", "text", "model"}`` or ``null``; ``"outdated": true`` is added when the
segment's text was corrected after it was translated. A speaker named after a voice its unit enrolled carries
``"voice": {"id", "similarity"}`` (the enrolment's id and the cosine similarity that named it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from verbatim.errors import InvalidOptionError
from verbatim.pipeline.export.options import ExportOptions
from verbatim.pipeline.types import (
    DecodeWarning,
    Segment,
    SegmentTranslation,
    Transcript,
    VoiceMatch,
    Word,
)

__all__ = [
    "SCHEMA",
    "document_bytes",
    "render_json",
    "transcript_from_dict",
    "transcript_from_json",
    "transcript_to_dict",
]

SCHEMA = "verbatim.transcript/1"

_SCORES = ("avg_logprob", "no_speech_prob", "compression_ratio")


def _time(value: float) -> float:
    return round(float(value), 3)


def _score(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def transcript_to_dict(transcript: Transcript) -> dict[str, Any]:
    """The JSON-ready document of a transcript.

    Args:
        transcript: the transcript to describe.

    Returns:
        A dict of JSON types (str, float, int, None, list, dict) following ``verbatim.transcript/1``.
    """
    return {
        "schema": SCHEMA,
        "audio": {
            "sha256": transcript.audio_sha256,
            "duration": _time(transcript.duration),
            "filename": transcript.filename,
        },
        "language": transcript.language,
        "language_probability": _score(transcript.language_probability),
        "models": {name: dict(info) for name, info in transcript.models.items()},
        "speakers": [_speaker_to_dict(transcript, sid, name) for sid, name in transcript.speakers.items()],
        "segments": [_segment_to_dict(s) for s in transcript.segments],
        **({"warnings": [w.to_dict() for w in transcript.warnings]} if transcript.warnings else {}),
    }


def _speaker_to_dict(transcript: Transcript, speaker: str, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": speaker, "name": name}
    match = transcript.voices.get(speaker)
    if match is not None:  # named after a voice its unit enrolled
        doc["voice"] = {"id": match.voice_id, "similarity": _score(match.similarity)}
    return doc


def _voices_from_dict(speakers: list[dict[str, Any]]) -> dict[str, VoiceMatch]:
    return {
        str(s["id"]): VoiceMatch(voice_id=str(s["voice"]["id"]), similarity=float(s["voice"]["similarity"]))
        for s in speakers
        if isinstance(s.get("voice"), dict)
    }


def _segment_to_dict(segment: Segment) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": segment.id,
        "start": _time(segment.start),
        "end": _time(segment.end),
        "speaker": segment.speaker,
        "language": segment.language,
        "language_probability": _score(segment.language_probability),
        "text": segment.text,
        "words": [_word_to_dict(w, segment.speaker) for w in segment.words],
    }
    for key in _SCORES:
        doc[key] = _score(getattr(segment, key))
    doc["translation"] = _translation_to_dict(segment.translation)
    return doc


def _translation_to_dict(translation: SegmentTranslation | None) -> dict[str, Any] | None:
    if translation is None:
        return None
    doc: dict[str, Any] = {
        "language": translation.language,
        "text": translation.text,
        "model": translation.model,
    }
    if translation.outdated:
        doc["outdated"] = True
    return doc


def _translation_from_dict(doc: Any) -> SegmentTranslation | None:
    if doc is None:
        return None
    return SegmentTranslation(
        language=str(doc["language"]),
        text=str(doc["text"]),
        model=str(doc["model"]),
        outdated=bool(doc.get("outdated", False)),
    )


def _word_to_dict(word: Word, segment_speaker: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "start": _time(word.start),
        "end": _time(word.end),
        "text": word.text,
        "probability": _score(word.probability),
        "join": word.join,
    }
    if word.speaker != segment_speaker:
        doc["speaker"] = word.speaker
    return doc


def transcript_from_dict(doc: dict[str, Any]) -> Transcript:
    """Read back a document written by :func:`transcript_to_dict`.

    Args:
        doc: the parsed JSON document.

    Returns:
        The transcript it describes.

    Raises:
        InvalidOptionError: the document is not a ``verbatim.transcript/1`` transcript, or is malformed.
    """
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise InvalidOptionError(f"not a transcript document: schema {found!r}, expected {SCHEMA!r}")
    try:
        audio = doc["audio"]
        probability = doc.get("language_probability")
        return Transcript(
            language=str(doc["language"]),
            duration=float(audio["duration"]),
            segments=tuple(_segment_from_dict(s) for s in doc["segments"]),
            audio_sha256=str(audio.get("sha256") or ""),
            filename=str(audio.get("filename") or ""),
            models={str(k): {str(a): str(b) for a, b in v.items()} for k, v in doc.get("models", {}).items()},
            speakers={str(s["id"]): str(s["name"]) for s in doc.get("speakers", [])},
            language_probability=1.0 if probability is None else float(probability),
            warnings=tuple(_warning_from_dict(w) for w in doc.get("warnings", [])),
            voices=_voices_from_dict(doc.get("speakers", [])),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise InvalidOptionError(f"malformed transcript document: {type(e).__name__}: {e}") from e


def _join(value: Any) -> str:
    return "" if value in ("", False) else " "


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _warning_from_dict(doc: dict[str, Any]) -> DecodeWarning:
    return DecodeWarning(
        code=str(doc["code"]),
        message=str(doc["message"]),
        decoded_duration=_optional_float(doc.get("decoded_duration")),
        declared_duration=_optional_float(doc.get("declared_duration")),
    )


def _segment_from_dict(doc: dict[str, Any]) -> Segment:
    speaker = doc.get("speaker")
    return Segment(
        id=int(doc["id"]),
        start=float(doc["start"]),
        end=float(doc["end"]),
        text=str(doc["text"]),
        words=tuple(
            Word(
                start=float(w["start"]),
                end=float(w["end"]),
                text=str(w["text"]),
                probability=float(w["probability"]),
                speaker=w.get("speaker", speaker),
                # documents written before "join" existed: every word stood apart
                join=_join(w.get("join", " ")),
            )
            for w in doc.get("words", [])
        ),
        speaker=speaker,
        language=doc.get("language"),
        avg_logprob=_optional_float(doc.get("avg_logprob")),
        no_speech_prob=_optional_float(doc.get("no_speech_prob")),
        compression_ratio=_optional_float(doc.get("compression_ratio")),
        translation=_translation_from_dict(doc.get("translation")),
        language_probability=_optional_float(doc.get("language_probability")),
    )


def transcript_from_json(data: bytes | str) -> Transcript:
    """Parse a transcript JSON document.

    Args:
        data: the document, as UTF-8 bytes or text.

    Returns:
        The transcript it describes.

    Raises:
        InvalidOptionError: not JSON, or not a ``verbatim.transcript/1`` transcript.
    """
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InvalidOptionError(f"transcript document is not valid JSON: {e}") from e
    return transcript_from_dict(doc)


def render_json(transcript: Transcript, options: ExportOptions) -> bytes:
    """The transcript as an indented UTF-8 JSON document.

    Args:
        transcript: the transcript to render.
        options: unused; present so every format has the same signature.

    Returns:
        The document's bytes, ending with a newline.
    """
    return document_bytes(transcript_to_dict(transcript))


def document_bytes(doc: Mapping[str, Any]) -> bytes:
    """A transcript document (a dict of this schema, a corrected revision's included) as stored: indented
    UTF-8 JSON ending with a newline, so that every stored transcript reads the same."""
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
