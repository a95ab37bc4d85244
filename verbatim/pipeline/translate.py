"""Translation of a transcript, segment by segment, keeping speakers and times.

Each segment is translated from its own language (see :mod:`verbatim.pipeline.langid`) into the target, by
the first route that covers the pair:

1. a **text** model (CTranslate2 ``Translator``: NLLB-200, M2M100, Marian/Opus-MT) an operator installed,
   covering source → target; segments are tokenised with the model's SentencePiece and translated in batches;
2. otherwise, when the target is English, **Whisper's speech translation** (``task="translate"``) on the
   segment's audio (a speaker's consecutive segments together, see :func:`speech_translate`), with the
   packaged model, offline;
3. otherwise a :class:`~verbatim.errors.TranslationUnavailableError` naming the pair.

Segments already in the target language are not translated: their translation is their text, recorded with
the model ``original``. Names and pseudonyms marked as such (explicit terms, bracketed tags such as
``[PERSONNE_1]``) are kept exactly: they are replaced by placeholders before a text model sees the text and
put back after; when a model drops or repeats a placeholder, the text is translated in pieces around the
protected terms instead, so the terms survive whatever the model does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from verbatim.errors import TranslationUnavailableError
from verbatim.pipeline.progress import ProgressHook, null_hook
from verbatim.pipeline.types import SAMPLE_RATE, Audio, Segment, SegmentTranslation, Transcript

if TYPE_CHECKING:
    from verbatim.models.translation import TranslationModelInfo
    from verbatim.pipeline.asr import WhisperASR

__all__ = [
    "ORIGINAL",
    "CT2TextTranslator",
    "TextTranslator",
    "TranslationOptions",
    "Translator",
    "protect",
    "restore",
    "speech_translate",
]

ORIGINAL = "original"
"""Model id recorded for a segment already in the target language (its text is copied)."""

_TAG = re.compile(r"\[[A-Z][A-Z0-9_ -]{0,40}\]|<[A-Z][A-Z0-9_]{0,40}>")
"""Pseudonymisation tags kept as they are: ``[PERSONNE_1]``, ``[NOM]``, ``<PER_2>``."""
_PLACEHOLDER = re.compile(r"\[(\d{1,3})\]")


@dataclass(frozen=True)
class TranslationOptions:
    """What to translate into, and how.

    Attributes:
        target: ISO 639-1 code of the translation (``en``, ``fr``).
        protected_terms: names and pseudonyms to keep exactly as written (bracketed tags and the speakers'
            display names are always kept).
        model: a text model to use (by name) instead of the first that covers each pair.
        beam_size: beam width of text models and of Whisper's speech translation.
        batch_size: segments translated together by a text model.
    """

    target: str
    protected_terms: tuple[str, ...] = ()
    model: str | None = None
    beam_size: int = 5
    batch_size: int = 16


class TextTranslator(Protocol):
    """A loaded text-translation model."""

    @property
    def info(self) -> TranslationModelInfo: ...

    def translate(self, texts: Sequence[str], *, source: str, target: str, beam_size: int = 4) -> list[str]:
        """Translate each text from ``source`` into ``target`` (ISO 639-1)."""
        ...


# -- protection of names ----------------------------------------------------------------------------
def protect(text: str, terms: Sequence[str]) -> tuple[str, list[str]]:
    """Replace protected terms and tags by placeholders ``[0]``, ``[1]``...

    Args:
        text: the text to translate.
        terms: names and pseudonyms to keep; longer terms win over shorter ones they contain.

    Returns:
        The masked text and the term each placeholder stands for (by index).
    """
    patterns = [re.escape(t) for t in sorted({t for t in terms if t.strip()}, key=len, reverse=True)]
    regex = re.compile("|".join([*patterns, _TAG.pattern])) if patterns else _TAG
    found: list[str] = []

    def sub(match: re.Match[str]) -> str:
        found.append(match.group(0))
        return f"[{len(found) - 1}]"

    return regex.sub(sub, text), found


def restore(translated: str, found: Sequence[str]) -> str | None:
    """Put the protected terms back; ``None`` when a placeholder was lost or repeated by the model."""
    indexes = [int(m.group(1)) for m in _PLACEHOLDER.finditer(translated)]
    if sorted(indexes) != list(range(len(found))):
        return None
    return _PLACEHOLDER.sub(lambda m: found[int(m.group(1))], translated)


def _pieces(text: str, terms: Sequence[str]) -> list[tuple[str, bool]]:
    """The text cut around its protected terms: (piece, is_protected)."""
    masked, found = protect(text, terms)
    out: list[tuple[str, bool]] = []
    last = 0
    for m in _PLACEHOLDER.finditer(masked):
        if masked[last : m.start()].strip():
            out.append((masked[last : m.start()].strip(), False))
        out.append((found[int(m.group(1))], True))
        last = m.end()
    if masked[last:].strip():
        out.append((masked[last:].strip(), False))
    return out


def translate_protected(
    model: TextTranslator,
    texts: Sequence[str],
    *,
    source: str,
    target: str,
    terms: Sequence[str] = (),
    beam_size: int = 4,
) -> list[str]:
    """Translate texts with a text model, keeping protected terms and tags exactly.

    A text whose placeholders the model does not give back once each is translated again in pieces around
    its protected terms, which are then joined with the terms between them.
    """
    masked = [protect(t, terms) for t in texts]
    if any(_PLACEHOLDER.search(t) for t in texts):  # a literal "[1]" in speech would be confused with ours
        masked = [(t, []) for t in texts]
    results = model.translate([m for m, _ in masked], source=source, target=target, beam_size=beam_size)
    out: list[str] = []
    for text, (_, found), result in zip(texts, masked, results, strict=True):
        restored = restore(result, found) if found else result
        if restored is None:
            pieces = _pieces(text, terms)
            plain = [p for p, kept in pieces if not kept]
            translated = iter(model.translate(plain, source=source, target=target, beam_size=beam_size))
            restored = " ".join(p if kept else next(translated) for p, kept in pieces)
        out.append(restored.strip())
    return out


# -- text models ------------------------------------------------------------------------------------
class CT2TextTranslator:
    """A CTranslate2 translation model with its SentencePiece tokenisers.

    Args:
        info: the model directory and what it covers.
        device: ``cpu`` or ``cuda`` (``auto`` picks CUDA when present).
        compute_type: CTranslate2 compute type (``auto``: int8 on CPU, float16 on CUDA).
        cpu_threads: 0 uses every core.
        batch_size: texts translated together.
    """

    def __init__(
        self,
        info: TranslationModelInfo,
        *,
        device: str = "auto",
        compute_type: str = "auto",
        cpu_threads: int = 0,
        batch_size: int = 16,
    ) -> None:
        import ctranslate2
        import sentencepiece

        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        if compute_type == "auto":
            compute_type = "float16" if device == "cuda" else "int8"
        self._info = info
        self.batch_size = batch_size
        self._translator = ctranslate2.Translator(
            str(info.path), device=device, compute_type=compute_type, intra_threads=cpu_threads
        )
        self._source_sp = sentencepiece.SentencePieceProcessor(model_file=str(info.source_spm))
        self._target_sp = (
            self._source_sp
            if info.target_spm == info.source_spm
            else sentencepiece.SentencePieceProcessor(model_file=str(info.target_spm))
        )

    @property
    def info(self) -> TranslationModelInfo:
        return self._info

    def _language_token(self, language: str) -> str:
        from verbatim.models.translation import NLLB_CODES

        if self._info.family == "nllb":
            return NLLB_CODES[language]
        if self._info.family == "m2m100":
            return f"__{language}__"
        return f">>{language}<<"

    def tokenize(self, text: str, *, source: str, target: str) -> tuple[list[str], list[str] | None]:
        """Source tokens and target prefix of one text, as the model's family expects them."""
        pieces: list[str] = self._source_sp.encode(text, out_type=str)
        if self._info.family in ("nllb", "m2m100"):
            return [self._language_token(source), *pieces, "</s>"], [self._language_token(target)]
        if len(self._info.targets) > 1:  # a multi-target Marian model is told the target by a >>xx<< token
            return [self._language_token(target), *pieces, "</s>"], None
        return [*pieces, "</s>"], None

    def detokenize(self, tokens: Sequence[str], *, target: str) -> str:
        """Text of the model's output tokens (language tokens and specials dropped)."""
        special = {"</s>", "<s>", "<pad>", self._language_token(target)}
        return str(self._target_sp.decode([t for t in tokens if t not in special])).strip()

    def translate(self, texts: Sequence[str], *, source: str, target: str, beam_size: int = 4) -> list[str]:
        """Translate each text from ``source`` into ``target``; empty texts stay empty."""
        if not self._info.covers(source, target):
            raise TranslationUnavailableError(
                f"Translation model '{self._info.name}' does not translate {source}→{target}."
            )
        out = [""] * len(texts)
        # similar lengths batched together: less padding
        todo = sorted(((i, t) for i, t in enumerate(texts) if t.strip()), key=lambda it: len(it[1]))
        for first in range(0, len(todo), max(1, self.batch_size)):
            batch = todo[first : first + max(1, self.batch_size)]
            tokenized = [self.tokenize(t, source=source, target=target) for _, t in batch]
            sources = [s for s, _ in tokenized]
            prefixes = [p for _, p in tokenized]
            # A degenerate loop stops at twice the source's length; each text gets its own limit, so that a
            # text translates the same whatever it is batched with.
            limits = [min(1024, 2 * len(s) + 16) for s in sources]
            results = self._translator.translate_batch(
                sources,
                target_prefix=prefixes if any(p for p in prefixes) else None,
                beam_size=beam_size,
                max_decoding_length=max(limits),
                repetition_penalty=1.1,
            )
            for (i, _), result, limit in zip(batch, results, limits, strict=True):
                out[i] = self.detokenize(result.hypotheses[0][:limit], target=target)
        return out


# -- speech translation -----------------------------------------------------------------------------
def speech_translate(
    asr: WhisperASR,
    audio: Audio,
    segments: Sequence[Segment],
    *,
    beam_size: int = 5,
    pad_seconds: float = 0.2,
    max_gap: float = 1.0,
    max_span: float = 25.0,
    first_sample: int = 0,
) -> list[str]:
    """English text of each segment's audio by Whisper's ``translate`` task.

    Consecutive segments of one speaker and one language, less than ``max_gap`` apart, are decoded together
    (at most ``max_span`` seconds: one Whisper window), so that a sentence cut in two by a pause is translated
    as one; Whisper's timestamps give each output phrase back to the segment it overlaps most. A segment
    alone, or one its group's timestamps left without text, is decoded alone. The excerpts' margins never
    reach into the neighbours' speech, so the translation stays aligned with the segment's speaker and times.

    ``audio`` may be a window of the recording that starts at its sample ``first_sample`` (16 kHz) and covers
    the segments with their margins (:func:`verbatim.pipeline.decode.decode_window`); the segments' times
    stay on the recording's clock, and the samples heard are those the whole recording gives.
    """
    ordered = sorted(range(len(segments)), key=lambda i: segments[i].start)
    groups: list[list[int]] = []
    for i in ordered:
        seg = segments[i]
        if groups:
            head, tail = segments[groups[-1][0]], segments[groups[-1][-1]]
            if (
                seg.speaker == tail.speaker
                and seg.language == tail.language
                and seg.start - tail.end <= max_gap
                and seg.end - head.start <= max_span
            ):
                groups[-1].append(i)
                continue
        groups.append([i])
    texts: dict[int, str] = {}
    end = (first_sample + audio.samples.size) / SAMPLE_RATE
    bounds = [(segments[i].start, segments[i].end) for i in ordered]
    starts = {i: rank for rank, i in enumerate(ordered)}
    for group in groups:
        first_rank, last_rank = starts[group[0]], starts[group[-1]]
        before = bounds[first_rank - 1][1] if first_rank > 0 else 0.0
        after = bounds[last_rank + 1][0] if last_rank + 1 < len(bounds) else end
        head, tail = segments[group[0]], segments[group[-1]]
        lo = max(head.start - pad_seconds, min(head.start, (before + head.start) / 2))
        hi = min(tail.end + pad_seconds, max(tail.end, (tail.end + after) / 2))
        phrases = _translate_span(
            asr, audio, lo, hi, head.language, beam_size, timestamps=len(group) > 1, first_sample=first_sample
        )
        if len(group) == 1:
            texts[group[0]] = " ".join(t for _, _, t in phrases).strip()
            continue
        parts: dict[int, list[str]] = {i: [] for i in group}
        for start, end, text in phrases:
            parts[_closest(segments, group, start, end)].append(text)
        for i in group:
            texts[i] = " ".join(parts[i]).strip()
            if not texts[i]:  # the group's timestamps gave it nothing: decode it alone
                seg = segments[i]
                alone = _translate_span(
                    asr,
                    audio,
                    seg.start,
                    seg.end,
                    seg.language,
                    beam_size,
                    timestamps=False,
                    first_sample=first_sample,
                )
                texts[i] = " ".join(t for _, _, t in alone).strip()
    return [texts[i] for i in range(len(segments))]


def _closest(segments: Sequence[Segment], group: Sequence[int], start: float, end: float) -> int:
    """The segment of ``group`` a phrase timed ``[start, end]`` overlaps most (nearest when none)."""

    def score(i: int) -> tuple[float, float]:
        seg = segments[i]
        overlap = min(end, seg.end) - max(start, seg.start)
        distance = abs((start + end) / 2 - (seg.start + seg.end) / 2)
        return (max(0.0, overlap), -distance)

    return max(group, key=score)


def _translate_span(
    asr: WhisperASR,
    audio: Audio,
    lo: float,
    hi: float,
    language: str | None,
    beam_size: int,
    *,
    timestamps: bool,
    first_sample: int = 0,
) -> list[tuple[float, float, str]]:
    """(start, end, English text) of the phrases Whisper's translate task gives for ``[lo, hi]``; times on
    the recording's clock (the whole span when ``timestamps`` is off). ``audio`` starts at the recording's
    sample ``first_sample``."""
    from verbatim.pipeline.asr import is_credit_hallucination

    first = max(first_sample, int(lo * SAMPLE_RATE))
    last = min(first_sample + audio.samples.size, int(hi * SAMPLE_RATE))
    samples = audio.samples[first - first_sample : max(first, last) - first_sample]
    if samples.size < SAMPLE_RATE // 2:  # too short for Whisper to say anything: pad with silence
        samples = np.pad(samples, (0, SAMPLE_RATE // 2 - samples.size))
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if 0.0 < peak < 0.1:  # very quiet recordings, as the first pass does
        samples = np.clip(samples * min(0.5 / peak, 31.6), -1.0, 1.0).astype(np.float32)
    generator, _ = asr.model.transcribe(
        samples,
        language=language,
        task="translate",
        beam_size=beam_size,
        vad_filter=False,
        without_timestamps=not timestamps,
        condition_on_previous_text=False,
        word_timestamps=False,
    )
    offset = first / SAMPLE_RATE
    phrases = []
    for raw in generator:
        text = raw.text.strip()
        # a subtitle credit Whisper invents on a breath or a cough is not a translation
        if text and not is_credit_hallucination(text):
            start, end = (offset + raw.start, offset + raw.end) if timestamps else (lo, hi)
            phrases.append((float(start), float(end), text))
    return phrases


# -- routing ----------------------------------------------------------------------------------------
@dataclass
class Translator:
    """Chooses a route for each language pair and translates transcripts.

    Args:
        text_models: installed text models (what they cover); loaded on first use through ``load``.
        load: loads a text model (kept warm by the caller's cache).
        speech: the Whisper model for speech translation into English, or ``None``.
    """

    text_models: Sequence[TranslationModelInfo] = ()
    load: Callable[[TranslationModelInfo], TextTranslator] | None = None
    speech: WhisperASR | None = None
    _loaded: dict[str, TextTranslator] = field(default_factory=dict)

    def speech_id(self) -> str:
        """Model id of Whisper's speech translation."""
        name = self.speech.identity().get("name", "whisper") if self.speech is not None else "whisper"
        return f"{name}:translate"

    def route(self, source: str, target: str, *, model: str | None = None) -> TranslationModelInfo | None:
        """The text model for ``source → target``, or ``None`` for Whisper's speech translation.

        Raises:
            TranslationUnavailableError: no installed model covers the pair (the message names it).
        """
        candidates = [m for m in self.text_models if model is None or m.name == model]
        for info in candidates:
            if info.covers(source, target):
                return info
        if target == "en" and self.speech is not None and model is None:
            return None
        installed = ", ".join(f"{m.name} ({m.family})" for m in self.text_models) or "none"
        raise TranslationUnavailableError(
            f"No installed model translates {source}→{target} (text models installed: {installed}; Whisper "
            "translates speech into English only). Convert one, e.g. NLLB-200, and register it with "
            "`verbatim models add DIR --kind translation` (see the README)."
        )

    def check_target(self, target: str, *, model: str | None = None) -> None:
        """Refuse early a target that no route can reach, whatever the recording's languages.

        Raises:
            TranslationUnavailableError: no text model translates into ``target`` and it is not English.
        """
        if model is not None and not any(m.name == model for m in self.text_models):
            known = ", ".join(m.name for m in self.text_models) or "none"
            raise TranslationUnavailableError(f"Unknown translation model '{model}'. Installed: {known}.")
        reachable = any(target in m.targets for m in self.text_models if model is None or m.name == model)
        if not reachable and not (target == "en" and self.speech is not None and model is None):
            raise TranslationUnavailableError(
                f"No installed model translates into '{target}': Whisper translates speech into English "
                "only. Convert a text model (NLLB-200, Opus-MT, M2M100) and register it with "
                "`verbatim models add DIR --kind translation` (see the README)."
            )

    def text_model(self, info: TranslationModelInfo) -> TextTranslator:
        """The loaded text model ``info`` describes (loaded on first use)."""
        return self._text_model(info)

    def _text_model(self, info: TranslationModelInfo) -> TextTranslator:
        if info.name not in self._loaded:
            if self.load is None:
                raise TranslationUnavailableError(f"Translation model '{info.name}' cannot be loaded here.")
            self._loaded[info.name] = self.load(info)
        return self._loaded[info.name]

    def translate(
        self,
        transcript: Transcript,
        audio: Audio | None,
        options: TranslationOptions,
        hook: ProgressHook = null_hook,
    ) -> Transcript:
        """Translate every segment into ``options.target``.

        Args:
            transcript: segments with their language (``segment.language``, else the transcript's).
            audio: the recording (needed by the speech route only).
            options: target, protected terms, beam.
            hook: receives ``("translate", completed=segments done, total=segments)``.

        Returns:
            A new transcript whose segments carry ``translation``; ``models`` records every model used
            (``translation:<name>``). The input is not modified.

        Raises:
            TranslationUnavailableError: a segment's language pair has no route.
        """
        target = options.target
        segments = list(transcript.segments)
        groups: dict[str, list[int]] = {}
        for i, seg in enumerate(segments):
            if seg.text.strip():
                groups.setdefault(seg.language or transcript.language, []).append(i)
        routes = {
            source: self.route(source, target, model=options.model) for source in groups if source != target
        }
        total = sum(len(v) for v in groups.values())
        done = 0
        hook("translate", completed=0, total=total)
        translations: dict[int, SegmentTranslation] = {}
        models: dict[str, dict[str, str]] = {}
        # speakers' display names (set by a clerk) are names marked as such too
        names = [name for sid, name in transcript.speakers.items() if name.strip() and name != sid]
        terms = (*options.protected_terms, *names)
        for source, indexes in groups.items():
            if source == target:
                for i in indexes:
                    translations[i] = SegmentTranslation(target, segments[i].text, ORIGINAL)
            else:
                info = routes[source]
                if info is not None:
                    texts = translate_protected(
                        self._text_model(info),
                        [segments[i].text for i in indexes],
                        source=source,
                        target=target,
                        terms=terms,
                        beam_size=options.beam_size,
                    )
                    model_id = info.name
                    models[f"translation:{info.name}"] = info.identity()
                else:
                    if audio is None or self.speech is None:
                        raise TranslationUnavailableError("Speech translation needs the recording's audio.")
                    texts = speech_translate(
                        self.speech, audio, [segments[i] for i in indexes], beam_size=options.beam_size
                    )
                    model_id = self.speech_id()
                    models[f"translation:{model_id}"] = {**self.speech.identity(), "task": "translate"}
                for i, text in zip(indexes, texts, strict=True):
                    translations[i] = SegmentTranslation(target, text, model_id)
            done += len(indexes)
            hook("translate", completed=done, total=total)
        out = tuple(
            seg.with_(translation=translations.get(i)) if i in translations else seg
            for i, seg in enumerate(segments)
        )
        return transcript.with_(segments=out, models={**transcript.models, **models})


def describe_route(translator: Translator, source: str, target: str) -> dict[str, Any]:
    """For diagnostics: which route a pair takes (``text``/``speech``/``none``) and the model."""
    if source == target:
        return {"route": "none", "model": ORIGINAL}
    info = translator.route(source, target)
    return (
        {"route": "text", "model": info.name}
        if info
        else {"route": "speech", "model": translator.speech_id()}
    )
