"""Values that flow between pipeline stages.

Every stage takes and returns these frozen dataclasses; times are float seconds from the start of the
recording. Nothing here imports a model library, so the types are cheap to import anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

__all__ = [
    "SAMPLE_RATE",
    "Audio",
    "DecodeWarning",
    "Diarization",
    "Segment",
    "SegmentTranslation",
    "SpeakerTurn",
    "Transcript",
    "VoiceMatch",
    "Word",
    "join_words",
]

SAMPLE_RATE = 16_000
"""Every stage works on 16 kHz mono float32 samples in [-1, 1]."""


@dataclass(frozen=True)
class DecodeWarning:
    """Something wrong with a recording that still decoded: said in the transcript, never silent.

    Attributes:
        code: ``truncated`` (the audio ends well before what the header declares) or ``corrupt``
            (undecodable data was skipped).
        message: a sentence for the reader of the transcript.
        decoded_duration: seconds of audio decoded.
        declared_duration: seconds the file's header declares (``None`` when it declares nothing).
    """

    code: str
    message: str
    decoded_duration: float | None = None
    declared_duration: float | None = None

    def to_dict(self) -> dict[str, object]:
        """The JSON form (keys without a value left out)."""
        values = {
            "code": self.code,
            "message": self.message,
            "decoded_duration": self.decoded_duration,
            "declared_duration": self.declared_duration,
        }
        return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class Audio:
    """Decoded audio, ready for the models.

    Attributes:
        samples: mono float32 samples at ``SAMPLE_RATE``; shape (num_samples,).
        sha256: SHA-256 of the original file's bytes (not of the decoded samples), for chain of custody.
        filename: the original file's name (no directory), for display only.
        channel: index of the source channel when decoded per channel, else ``None`` (all channels mixed).
        warnings: what was wrong with the file though it decoded (truncated, corrupt data skipped).
    """

    samples: npt.NDArray[np.float32]
    sha256: str
    filename: str
    channel: int | None = None
    warnings: tuple[DecodeWarning, ...] = ()

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE


@dataclass(frozen=True)
class Word:
    """One recognised word.

    Attributes:
        start / end: seconds from the start of the recording.
        text: the word without surrounding spaces (punctuation attached as Whisper gives it).
        probability: the decoder's confidence in it.
        speaker: who said it, once speakers are assigned.
        join: what goes between the previous word and this one: ``" "`` (a new word) or ``""`` (this token
            continues the previous one: "d" + "'accord", "États" + "-Unis", "aujourd" + "'hui"). Whisper
            marks a new word with a leading space; without keeping that, every format would cut French words
            apart.
    """

    start: float
    end: float
    text: str
    probability: float
    speaker: str | None = None
    join: str = " "


def join_words(words: Sequence[Word]) -> str:
    """The text of consecutive words, each joined to the previous one as it was spoken (see ``Word.join``)."""
    parts: list[str] = []
    for word in words:
        token = word.text.strip()
        if not token:
            continue
        if parts and word.join:
            parts.append(" ")
        parts.append(token)
    return "".join(parts)


@dataclass(frozen=True)
class SegmentTranslation:
    """A segment's text in another language.

    Attributes:
        language: ISO 639-1 code of the translation (``en``, ``fr``).
        text: the translated text.
        model: id of what produced it: a text model's name, ``<asr model>:translate`` for Whisper's speech
            translation, or ``original`` when the segment was already in that language (text copied).
        outdated: the segment's original text was corrected after this translation was made (a clerk's
            correction of the transcript): the translation may no longer match it.
    """

    language: str
    text: str
    model: str
    outdated: bool = False


@dataclass(frozen=True)
class Segment:
    id: int
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    speaker: str | None = None
    language: str | None = None
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    compression_ratio: float | None = None
    translation: SegmentTranslation | None = None
    language_probability: float | None = None

    def with_(self, **changes: object) -> Segment:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SpeakerTurn:
    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class Diarization:
    """Speaker turns sorted by start; turns of different speakers may overlap."""

    turns: tuple[SpeakerTurn, ...]
    num_speakers: int
    model: str = ""

    @property
    def speakers(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for turn in self.turns:
            seen.setdefault(turn.speaker, None)
        return tuple(seen)


@dataclass(frozen=True)
class VoiceMatch:
    """A speaker named after a voice its unit enrolled (:mod:`verbatim.pipeline.voices`).

    Attributes:
        voice_id: the enrolment's id.
        similarity: cosine similarity of the speaker's centroid with the voice print.
    """

    voice_id: str
    similarity: float


@dataclass(frozen=True)
class Transcript:
    """A transcript of one recording.

    Attributes:
        language: main language (ISO 639-1) of the recording.
        duration: length of the recording in seconds.
        segments: in time order.
        audio_sha256 / filename: identity of the source recording.
        models: identities of the models that produced it (name -> description incl. hash).
        speakers: speaker id -> display name (names can be set later by a clerk).
        language_probability: confidence of the language detection (1.0 when forced).
        warnings: damage of the recording that decoding found (see :class:`DecodeWarning`).
        voices: speaker id -> the enrolled voice that named it, with the similarity (known voices).
    """

    language: str
    duration: float
    segments: tuple[Segment, ...]
    audio_sha256: str = ""
    filename: str = ""
    models: dict[str, dict[str, str]] = field(default_factory=dict)
    speakers: dict[str, str] = field(default_factory=dict)
    language_probability: float = 1.0
    warnings: tuple[DecodeWarning, ...] = ()
    voices: dict[str, VoiceMatch] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(w for s in self.segments for w in s.words)

    def with_(self, **changes: object) -> Transcript:
        return replace(self, **changes)  # type: ignore[arg-type]
