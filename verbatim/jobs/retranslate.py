"""A corrected segment translated again, on demand, by the route that made its translation.

The clerk corrects the original; the translation made before is kept and marked outdated. Asked for, one
segment is translated again here, synchronously (one segment: a second or two on a CPU), and the result is
recorded as a correction row of kind ``translation`` (:func:`verbatim.jobs.documents.record`):

- a **text** model that covers the pair translates the *corrected* text (names marked as such kept);
- otherwise, into English, **Whisper's speech translation** hears the segment's audio again: it cannot read
  the corrected words, so a correction of the text changes its output only through the segment's (possibly
  corrected) times;
- a segment already in the target language gets its corrected text (model ``original``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verbatim.errors import InvalidOptionError, TranslationUnavailableError
from verbatim.ops.db import Job
from verbatim.ops.settings import Settings
from verbatim.ops.storage import ObjectStore

__all__ = ["Retranslation", "retranslate_segment"]


@dataclass(frozen=True)
class Retranslation:
    text: str
    model: str


def retranslate_segment(
    settings: Settings, store: ObjectStore, job: Job, doc: Mapping[str, Any], segment_id: int
) -> Retranslation:
    """The translation of segment ``segment_id`` of ``doc`` (the current revision) made again.

    Raises:
        InvalidOptionError: no such segment, or it has no translation.
        TranslationUnavailableError: no route translates the pair on this server.
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
    from verbatim.pipeline.decode import decode

    transcript = transcript_from_dict(dict(doc))
    seg = next(s for s in transcript.segments if s.id == segment_id)
    with tempfile.TemporaryDirectory(prefix="verbatim-retranslate-") as folder:
        path = Path(folder) / "recording"
        store.download_to(job.object_key, path)
        audio = decode(path)
    texts = speech_translate(asr, audio, [seg.with_(language=source)], beam_size=5)
    name = asr.identity().get("name", "whisper")
    return Retranslation(texts[0], f"{name}:translate")
