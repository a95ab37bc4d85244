"""A corrected segment translated again, on demand, by the route that made its translation.

The clerk corrects the original; the translation made before is kept and marked outdated. Asked for, one
segment is translated again here, synchronously (one segment: a second or two on a CPU), and the result is
recorded as a correction row of kind ``translation`` (:func:`verbatim.jobs.documents.record`):

- a **text** model that covers the pair translates the *corrected* text (names marked as such kept);
- otherwise, into English, **Whisper's speech translation** hears the segment's audio again: it cannot read
  the corrected words, so a correction of the text changes its output only through the segment's (possibly
  corrected) times. Only the segment's window (:data:`MARGIN_S` either side) is decoded, by a seek
  (:func:`verbatim.pipeline.decode.decode_window`): the samples Whisper hears are those a decode of the whole
  recording gives, at the cost of the segment, not of hours of audio. The stored recording (decrypted and
  authenticated by the store when encrypted at rest) must still have the SHA-256 recorded at upload;
- a segment already in the target language gets its corrected text (model ``original``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verbatim.errors import AudioDecodeError, InvalidOptionError, TranslationUnavailableError
from verbatim.ops.db import Job
from verbatim.ops.settings import Settings
from verbatim.ops.storage import ObjectNotFoundError, ObjectStore

__all__ = ["MARGIN_S", "Retranslation", "retranslate_segment", "segment_window"]

MARGIN_S = 1.0
"""Seconds of audio decoded either side of the segment: more than the 0.2 s pad speech translation adds,
and enough that the pad comes out the same as on the whole recording (it needs 0.4 s of audio after)."""


@dataclass(frozen=True)
class Retranslation:
    text: str
    model: str


def segment_window(start: float, end: float) -> tuple[int, int]:
    """The samples (16 kHz, ``[first, last)``) decoded to translate a segment of ``[start, end]`` again."""
    from verbatim.pipeline.types import SAMPLE_RATE

    first = max(0, round((start - MARGIN_S) * SAMPLE_RATE))
    return first, max(first, round((end + MARGIN_S) * SAMPLE_RATE))


def retranslate_segment(
    settings: Settings, store: ObjectStore, job: Job, doc: Mapping[str, Any], segment_id: int
) -> Retranslation:
    """The translation of segment ``segment_id`` of ``doc`` (the current revision) made again.

    Raises:
        InvalidOptionError: no such segment, or it has no translation.
        TranslationUnavailableError: no route translates the pair on this server, or the recording the
            speech route must hear is no longer stored.
        AudioDecodeError: the stored recording is not the one uploaded (SHA-256), or its window does not
            decode.
        IntegrityError: an encrypted recording failed authentication (from the store).
    """
    from verbatim.jobs.stages import get_asr, get_translator
    from verbatim.pipeline.export.json_format import transcript_from_dict
    from verbatim.pipeline.translate import ORIGINAL, speech_translate, translate_protected

    segment = next((s for s in doc.get("segments", []) if int(s["id"]) == segment_id), None)
    if segment is None:
        raise InvalidOptionError(f"no segment {segment_id} in this transcript")
    translation = segment.get("translation")
    if not isinstance(translation, dict):
        raise InvalidOptionError(f"segment {segment_id} has no translation to make again")
    target = str(translation["language"])
    source = str(segment.get("language") or doc.get("language") or "")
    text = str(segment.get("text") or "")
    if source == target or not text.strip():
        return Retranslation(text, ORIGINAL)
    translator = get_translator(settings, None)
    info = None
    try:
        info = translator.route(source, target)
    except TranslationUnavailableError:
        if target != "en":
            raise
    names = [
        str(s.get("name")) for s in doc.get("speakers", []) if s.get("name") and s.get("name") != s.get("id")
    ]
    if info is not None:
        out = translate_protected(
            translator.text_model(info), [text], source=source, target=target, terms=names, beam_size=5
        )
        return Retranslation(out[0], info.name)
    model = str(doc.get("models", {}).get("asr", {}).get("name") or "") or None
    try:
        asr = get_asr(settings, model)
    except Exception:  # the job's model was removed: the configured one
        asr = get_asr(settings)
    if job.object_key is None:
        raise TranslationUnavailableError("The recording is no longer stored: it cannot be heard again.")
    from verbatim.pipeline.decode import decode_window

    transcript = transcript_from_dict(dict(doc))
    seg = next(s for s in transcript.segments if s.id == segment_id)
    first, last = segment_window(seg.start, seg.end)
    with tempfile.TemporaryDirectory(prefix="verbatim-retranslate-") as folder:
        # a fixed neutral name: decoding errors quote it, and the user's file name must not reach logs
        path = Path(folder) / "recording"
        try:
            stored = store.download_to(job.object_key, path)  # the store decrypts and authenticates
        except ObjectNotFoundError as e:
            raise TranslationUnavailableError(
                "The recording is missing from storage: it cannot be heard again."
            ) from e
        if job.audio_sha256 and stored.sha256 != job.audio_sha256:
            raise AudioDecodeError(
                "The stored recording does not match the SHA-256 recorded at upload (chain of custody "
                "broken); ask an administrator to check the object store."
            )
        audio = decode_window(path, first, last, sha256=stored.sha256)
    texts = speech_translate(asr, audio, [seg.with_(language=source)], beam_size=5, first_sample=first)
    name = asr.identity().get("name", "whisper")
    return Retranslation(texts[0], f"{name}:translate")
