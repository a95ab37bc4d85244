"""What a user asks of one transcription, as the CLI, the HTTP API and the workers all receive it.

``TranscriptionRequest`` is the validated, serialisable form (it is stored with a job as JSON);
:func:`build_pipeline` turns it into loaded models and :class:`PipelineOptions`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from verbatim.errors import InvalidOptionError

if TYPE_CHECKING:
    from verbatim.ops.settings import Settings
    from verbatim.pipeline.runner import PipelineOptions, TranscriptionPipeline
    from verbatim.pipeline.translate import TranslationOptions

__all__ = ["TranscriptionRequest", "build_pipeline", "parse_request"]


class TranscriptionRequest(BaseModel):
    """Options of one transcription; every field has the default a user expects."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str = Field(default="auto", description="ISO 639-1 code (fr, en, ar...) or 'auto'.")
    task: Literal["transcribe", "translate"] = Field(
        default="transcribe", description="translate: speech translated to English by Whisper."
    )
    diarize: bool = Field(default=True, description="Find who speaks when.")
    num_speakers: int | None = Field(default=None, ge=1, le=32, description="Exact number of speakers.")
    min_speakers: int | None = Field(default=None, ge=1, le=32)
    max_speakers: int | None = Field(default=None, ge=1, le=32)
    channels: Literal["mix", "split"] = Field(
        default="mix", description="split: one speaker per channel (one microphone each)."
    )
    model: str | None = Field(default=None, description="ASR model name (default from settings).")
    beam_size: int | None = Field(default=None, ge=1, le=20)
    pseudonymize: bool = Field(
        default=False, description="Also make a pseudonymised copy (transcript, table, released audio)."
    )
    pseudonymization_policy: str = Field(
        default="hearing", description="Policy of the pseudonymised copy: hearing or open-data."
    )
    translate_to: str | None = Field(
        default=None,
        description="Translate every segment into this language (ISO 639-1, e.g. en or fr), original kept: "
        "a text model when one covers the pair, else Whisper's speech translation into English.",
    )

    @model_validator(mode="after")
    def _check(self) -> TranscriptionRequest:
        from verbatim.pipeline.asr import normalize_language

        try:
            normalize_language(self.language)
        except InvalidOptionError as e:
            raise ValueError(str(e)) from e
        if self.min_speakers and self.max_speakers and self.min_speakers > self.max_speakers:
            raise ValueError("min_speakers must not exceed max_speakers")
        from verbatim.anonymize.policy import POLICIES

        if self.pseudonymization_policy not in POLICIES:
            raise ValueError(f"pseudonymization_policy: choose one of {', '.join(POLICIES)}")
        if self.translate_to is not None:
            try:
                target = normalize_language(self.translate_to)
            except InvalidOptionError as e:
                raise ValueError(f"translate_to: {e}") from e
            if target is None:
                raise ValueError("translate_to: give a language code (en, fr...), not 'auto'.")
            if self.task == "translate":
                raise ValueError(
                    "translate_to keeps the original and adds a translation; task=translate replaces the "
                    "original by English: use one or the other."
                )
            object.__setattr__(self, "translate_to", target)
        return self


def parse_request(data: dict[str, object]) -> TranscriptionRequest:
    """Validate raw options (from a form, JSON or the CLI).

    Raises:
        InvalidOptionError: with a message naming the faulty option.
    """
    try:
        return TranscriptionRequest.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "options"
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        ctx_error = (first.get("ctx") or {}).get("error")
        if isinstance(ctx_error, InvalidOptionError):
            raise ctx_error from e
        raise InvalidOptionError(f"{where}: {message}") from e


def build_pipeline(
    request: TranscriptionRequest, settings: Settings
) -> tuple[TranscriptionPipeline, PipelineOptions]:
    """Loaded models (once per process) and the options for this request.

    Raises:
        InvalidOptionError: options that cannot be honoured (checked before any model loads).
        ModelNotFoundError / ModelIntegrityError: from the model store.
    """
    from verbatim.models.loader import get_asr, get_diarizer, get_translator
    from verbatim.pipeline.asr import AsrOptions, normalize_language
    from verbatim.pipeline.diarize import DiarizationOptions
    from verbatim.pipeline.runner import PipelineOptions, TranscriptionPipeline

    diarization = DiarizationOptions(
        num_speakers=request.num_speakers,
        min_speakers=request.min_speakers or 1,
        max_speakers=request.max_speakers,
    )
    diarization.validate()
    language = normalize_language(request.language)
    translation = _translation_options(request)
    if translation is not None and translation.target != "en":
        # refused before the ASR model loads: only a text model reaches a target other than English
        get_translator(settings, None).check_target(translation.target)
    asr = get_asr(settings, request.model)
    batch = settings.asr.batch_size
    if batch is None:
        batch = 8 if asr.device == "cuda" else 0
    options = PipelineOptions(
        asr=AsrOptions(
            language=language,
            task=request.task,
            beam_size=request.beam_size or settings.asr.beam_size,
            batch_size=batch,
        ),
        diarize=request.diarize and request.channels == "mix",
        diarization=diarization,
        channels=request.channels,
        translation=translation,
    )
    translator = None
    if options.translation is not None:
        translator = get_translator(settings, asr)
        translator.check_target(options.translation.target)
    diarizer = get_diarizer(settings) if options.diarize else None
    return TranscriptionPipeline(asr, diarizer, translator), options


def _translation_options(request: TranscriptionRequest) -> TranslationOptions | None:
    from verbatim.pipeline.translate import TranslationOptions

    if request.translate_to is None:
        return None
    return TranslationOptions(target=request.translate_to)
