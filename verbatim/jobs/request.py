"""What a user asks of one transcription: the one typed request of the CLI, the HTTP API and the workers.

:class:`TranscriptionRequest` is parsed once, where the request comes in (:func:`parse_request`), with the
defaults the settings choose resolved then (``VERBATIM_PSEUDONYMIZATION__DEFAULT_POLICY``), stored with the
job as JSON (:meth:`TranscriptionRequest.to_stored`) and read back typed by the workers
(:meth:`TranscriptionRequest.from_stored`). Everything else is derived from its fields:

- the form of ``POST /v1/jobs`` (:func:`form_model`, ``JobCreate`` in :mod:`verbatim.api.schemas`);
- the options of ``verbatim transcribe`` (:func:`cli_options`);
- the options of the OpenAI-compatible routes (they call :func:`parse_request` with what OpenAI's API names).

Adding a request field is a change in this module only:

1. Declare it on :class:`TranscriptionRequest` with a default and a ``description`` (the help of the CLI
   option and of the form field), e.g. ``prompt: str | None = Field(default=None, description="...")`` or
   ``hide: list[str] = Field(default_factory=list, description="...")``. A list field accepts, from a form
   or the CLI, a comma-separated string, and the CLI option may be repeated.
2. Optional, in the field's ``json_schema_extra``: ``{"cli": "--name"}`` names the CLI option (default: the
   field name with dashes), ``{"cli": False}`` keeps it off the CLI, ``{"http": False}`` off the HTTP form.
3. Checks that involve the value (or several fields) go in :meth:`TranscriptionRequest._check`; raise
   ``ValueError`` with a message naming the field. A default that comes from the settings goes in
   :data:`SETTINGS_DEFAULTS`.
4. Use it where the stages are built (:func:`verbatim.jobs.stages.build_pipeline`) or in the job's worker.

Stored requests of older jobs stay readable: a new field needs a default.
"""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from verbatim.errors import InvalidOptionError

if TYPE_CHECKING:
    from verbatim.anonymize.policy import Policy
    from verbatim.ops.settings import Settings
    from verbatim.pipeline.export import ExportOptions

__all__ = [
    "MAX_PROMPT_CHARS",
    "SETTINGS_DEFAULTS",
    "CliOption",
    "PolicyDocument",
    "RequestForm",
    "TranscriptionRequest",
    "cli_options",
    "form_model",
    "parse_request",
    "policy_option",
]


MAX_PROMPT_CHARS = 1000
"""Longest prompt: Whisper reads at most 223 tokens of it (its end), about 1000 characters of prose."""
MAX_VOCABULARY_TERMS = 200
MAX_TERM_CHARS = 100
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class PolicyDocument(BaseModel):
    """A pseudonymisation policy given in full (the content of a JSON policy file, ``base`` resolved)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    operators: dict[str, str] = Field(default_factory=dict)
    keep_professionals: bool = True
    alias_style: Literal["names", "letters"] = "names"
    min_score: float = 0.5

    @classmethod
    def of(cls, policy: Policy) -> PolicyDocument:
        """The document of a policy."""
        return cls(
            name=policy.name,
            description=policy.description,
            operators=dict(policy.operators),
            keep_professionals=policy.keep_professionals,
            alias_style=policy.alias_style,
            min_score=policy.min_score,
        )

    def policy(self) -> Policy:
        """The policy this document describes.

        Raises:
            InvalidOptionError: an unknown category or operator.
        """
        from verbatim.anonymize.policy import policy_from_dict

        return policy_from_dict(self.model_dump(), source="pseudonymization_policy")


class TranscriptionRequest(BaseModel):
    """Options of one transcription; every field has the default a user expects."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str = Field(default="auto", description="ISO 639-1 code (fr, en, ar...) or 'auto'.")
    task: Literal["transcribe", "translate"] = Field(
        default="transcribe", description="transcribe, or translate (speech to English by Whisper)."
    )
    diarize: bool = Field(default=True, description="Find who speaks when (speaker diarisation).")
    num_speakers: int | None = Field(
        default=None, ge=1, le=32, description="Exact number of speakers, when known."
    )
    min_speakers: int | None = Field(default=None, ge=1, le=32, description="At least this many speakers.")
    max_speakers: int | None = Field(default=None, ge=1, le=32, description="At most this many speakers.")
    voices: bool = Field(
        default=True,
        description="Name speakers after the voices the unit enrolled (known voices: /v1/voices, `verbatim "
        "voices`); false: this job's speakers keep their ids.",
    )
    channels: Literal["mix", "split"] = Field(
        default="mix",
        description="mix: all channels together; split: one speaker per channel (one mic each).",
    )
    model: str | None = Field(
        default=None,
        description="ASR model name or CTranslate2 directory (default from settings).",
        json_schema_extra={"http": False},
    )
    beam_size: int | None = Field(
        default=None,
        ge=1,
        le=20,
        description="Beam search width (default from settings: 5).",
        json_schema_extra={"http": False},
    )
    pseudonymize: bool = Field(
        default=False, description="Also make a pseudonymised copy (names, places... replaced consistently)."
    )
    pseudonymization_policy: str | PolicyDocument = Field(
        default="hearing",
        description="Policy of the pseudonymised copy: hearing, open-data, or a policy document (JSON: "
        '{"base": "hearing", "operators": {"AGE": "redact"}}; the CLI also takes a JSON policy file). '
        "Default from settings (pseudonymization.default_policy).",
        json_schema_extra={"cli": "--policy"},
    )
    languages: list[str] = Field(
        default_factory=list,
        description="Languages the recording may hold, e.g. fr,ar,en: with language 'auto', the recording's "
        "and each passage's language is chosen among these only (default: languages with real support "
        "in the recording).",
    )
    prompt: str | None = Field(
        default=None,
        max_length=MAX_PROMPT_CHARS,
        description="Names, places and terms of the case, as they are spelled, to help the recogniser write "
        "them (Whisper's initial prompt); recorded with the transcript.",
    )
    vocabulary: list[str] = Field(
        default_factory=list,
        max_length=MAX_VOCABULARY_TERMS,
        description="Terms of the case (names, places...), added to the prompt; the CLI reads them from "
        "--vocabulary FILE, one a line.",
        json_schema_extra={"cli": False},
    )
    hide: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="Names always hidden in the pseudonymised copy (the minor's, the family's), in the text, "
        "the translation, the speaker names and the released recording; comma-separated in a form, "
        "--hide NAME (repeatable) and --hide-file FILE on the command line. Never shown with the job.",
    )
    translate_to: str | None = Field(
        default=None,
        description="Translate every segment into this language (ISO 639-1, e.g. en or fr), original kept: "
        "a text model when one covers the pair, else Whisper's speech translation into English.",
    )
    case_number: str | None = Field(
        default=None,
        max_length=200,
        description="Case (procédure) number, printed on every page of the documents.",
    )
    hearing_place: str | None = Field(
        default=None, max_length=200, description="Where the hearing took place."
    )
    hearing_date: str | None = Field(
        default=None, description="When the hearing took place: ISO date or date and time (2026-11-29T14:30)."
    )
    persons_present: list[str] = Field(
        default_factory=list,
        description="Persons present, each with their role: 'Mme Durand (greffière), M. Martin (témoin)'.",
    )
    line_numbers: bool = Field(
        default=False,
        description="Number the lines of the documents (DOCX, ODT, PDF) in the margin, anew on each page, so "
        "that a passage can be cited by page and line.",
    )

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, data: Any) -> Any:
        """A list field given as one string (a form field, an option) holds comma-separated values."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name, value in data.items():
            field = cls.model_fields.get(name)
            if field is None or not _is_list(field.annotation):
                continue
            if isinstance(value, str):
                data[name] = [item.strip() for item in value.split(",") if item.strip()]
            elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
                # a repeated CLI option, each occurrence possibly comma-separated: --languages fr,ar
                data[name] = [item.strip() for v in value for item in v.split(",") if item.strip()]
        return data

    @field_validator("pseudonymization_policy", mode="before")
    @classmethod
    def _policy(cls, value: Any) -> Any:
        from verbatim.anonymize.policy import POLICIES, policy_from_dict

        if isinstance(value, str) and value.lstrip().startswith("{"):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as e:
                raise ValueError(f"pseudonymization_policy: not a JSON policy document ({e.msg})") from e
        if isinstance(value, dict):
            # base resolved now: the stored request holds the whole policy the copy is made with
            return PolicyDocument.of(policy_from_dict(value, source="pseudonymization_policy"))
        if isinstance(value, str) and value not in POLICIES:
            raise ValueError(
                f"pseudonymization_policy: choose one of {', '.join(POLICIES)}, or give a policy document"
            )
        return value

    @field_validator("hide")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        from verbatim.anonymize.layout import strip_invisible

        names = [" ".join(strip_invisible(n).split()) for n in value]
        if any(len(n) > 200 for n in names):
            raise ValueError("hide: a name has at most 200 characters")
        return [n for n in dict.fromkeys(names) if n]

    @model_validator(mode="after")
    def _check(self) -> TranscriptionRequest:
        from verbatim.pipeline.asr import normalize_language

        try:
            normalize_language(self.language)
        except InvalidOptionError as e:
            raise ValueError(f"language: {e}") from e
        languages = []
        for code in self.languages:
            try:
                normalized = normalize_language(code)
            except InvalidOptionError as e:
                raise ValueError(f"languages: {e}") from e
            if normalized is None:
                raise ValueError("languages: give ISO 639-1 codes such as fr,ar,en (not 'auto').")
            languages.append(normalized)
        object.__setattr__(self, "languages", list(dict.fromkeys(languages)))
        for text, what in ((self.prompt or "", "prompt"), *((t, "vocabulary") for t in self.vocabulary)):
            if _CONTROL.search(text):
                raise ValueError(f"{what}: control characters are not allowed")
            if what == "vocabulary" and not 0 < len(text.strip()) <= MAX_TERM_CHARS:
                raise ValueError(f"vocabulary: each term is 1 to {MAX_TERM_CHARS} characters")
        object.__setattr__(self, "vocabulary", [" ".join(t.split()) for t in self.vocabulary])
        if self.min_speakers and self.max_speakers and self.min_speakers > self.max_speakers:
            raise ValueError("min_speakers must not exceed max_speakers")
        if self.hide and not self.pseudonymize:
            raise ValueError("hide: names to hide go with pseudonymize=true")
        if isinstance(self.pseudonymization_policy, PolicyDocument):
            self.pseudonymization_policy.policy()  # refuses an unknown category or operator now
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
        if self.hearing_date is not None:
            import datetime as dt

            try:
                dt.datetime.fromisoformat(self.hearing_date)
            except ValueError as e:
                raise ValueError("hearing_date: give an ISO date or date and time (2026-11-29T14:30).") from e
        return self

    def initial_prompt(self) -> str | None:
        """What Whisper is given as its initial prompt: the vocabulary's terms, then the prompt."""
        parts = [", ".join(self.vocabulary) + "." if self.vocabulary else "", (self.prompt or "").strip()]
        text = " ".join(p for p in parts if p)
        return text or None

    def export_options(self, **layout: Any) -> ExportOptions:
        """The document options of this request's case (number, hearing, persons present), with ``layout``
        (title, subtitles...) on top."""
        from verbatim.pipeline.export import ExportOptions

        return ExportOptions(
            case_number=self.case_number,
            hearing_place=self.hearing_place,
            hearing_date=self.hearing_date,
            persons_present=tuple(self.persons_present),
            line_numbers=self.line_numbers,
            **layout,
        )

    def policy(self) -> Policy:
        """The pseudonymisation policy of this request."""
        from verbatim.anonymize.policy import get_policy

        chosen = self.pseudonymization_policy
        return chosen.policy() if isinstance(chosen, PolicyDocument) else get_policy(chosen)

    def to_stored(self, *, key: bytes | None = None) -> dict[str, Any]:
        """The JSON form kept with the job (``job.options``).

        Args:
            key: the pseudonymisation key. With it, the hide list is kept sealed (AES-256-GCM, under
                :data:`SEALED_HIDE`) so that no hidden name is in clear in the database; without it (a
                request that is not stored, tests), in clear.
        """
        stored = self.model_dump(mode="json")
        if key is not None and self.hide:
            from verbatim.anonymize.crypto import encrypt_document

            envelope = encrypt_document(key, {"hide": list(self.hide)}, context=_HIDE_CONTEXT)
            stored["hide"] = []
            stored[SEALED_HIDE] = envelope.decode("utf-8")
        return stored

    @classmethod
    def from_stored(
        cls, stored: Mapping[str, Any] | None, *, key: bytes | None = None
    ) -> TranscriptionRequest:
        """The request as :meth:`to_stored` kept it (no default is resolved again from today's settings).

        Args:
            stored: ``job.options``.
            key: the pseudonymisation key, to open a sealed hide list; without it the request's ``hide``
                is empty (callers that do not pseudonymise need no key).

        Raises:
            InvalidOptionError: the stored options no longer validate.
            KeyError_: the hide list was sealed with another key.
        """
        data = dict(stored or {})
        sealed = data.pop(SEALED_HIDE, None)
        if sealed is not None and key is not None:
            from verbatim.anonymize.crypto import decrypt_document

            data["hide"] = list(decrypt_document(key, str(sealed).encode("utf-8")).get("hide", []))
        return _validate(cls, data)


SEALED_HIDE = "hide_sealed"
"""The key of ``job.options`` holding the encrypted hide list (see :meth:`TranscriptionRequest.to_stored`)."""
_HIDE_CONTEXT = "verbatim.job-options/hide"


SETTINGS_DEFAULTS: dict[str, Callable[[Settings], object]] = {
    "pseudonymization_policy": lambda settings: _default_policy(settings.pseudonymization.default_policy),
}
"""Fields whose default the settings choose, resolved by :func:`parse_request` when a request omits them."""


def _default_policy(setting: str) -> str | dict[str, Any]:
    from verbatim.anonymize.policy import POLICIES, load_policy

    if setting in POLICIES:
        return setting
    # a JSON file on the server (settings are the operator's): stored whole with each job
    return PolicyDocument.of(load_policy(setting)).model_dump()


def parse_request(data: Mapping[str, object], settings: Settings | None = None) -> TranscriptionRequest:
    """Validate raw options (from a form, JSON or the CLI); an option not given takes its default, from the
    settings for those of :data:`SETTINGS_DEFAULTS`.

    Args:
        data: option name -> value; ``None`` and ``""`` mean "not given".
        settings: the settings (default: :func:`~verbatim.ops.settings.get_settings`).

    Raises:
        InvalidOptionError: with a message naming the faulty option.
    """
    given = {k: v for k, v in data.items() if v is not None and v != ""}
    missing = [name for name in SETTINGS_DEFAULTS if name not in given]
    if missing:
        if settings is None:
            from verbatim.ops.settings import get_settings

            settings = get_settings()
        for name in missing:
            given[name] = SETTINGS_DEFAULTS[name](settings)
    return _validate(TranscriptionRequest, given)


def _validate(model: type[TranscriptionRequest], data: dict[str, object]) -> TranscriptionRequest:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "options"
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        ctx_error = (first.get("ctx") or {}).get("error")
        if isinstance(ctx_error, InvalidOptionError):
            raise ctx_error from e
        if message.startswith(f"{where}:") or message.split(":", 1)[0] in model.model_fields:
            # a check of the whole request that names its field: the field, not "options", comes first
            raise InvalidOptionError(message) from e
        raise InvalidOptionError(f"{where}: {message}") from e


def policy_option(value: str) -> str | dict[str, Any]:
    """The CLI's ``--policy``: a built-in name as it is, a JSON policy file read into its document.

    Only the CLI reads a file named by the user (the HTTP API takes the document itself: a server does not
    open paths its clients name).

    Raises:
        InvalidOptionError: an unreadable or invalid file.
    """
    from verbatim.anonymize.policy import POLICIES, load_policy

    if value in POLICIES or value.lstrip().startswith("{") or not Path(value).is_file():
        return value
    return PolicyDocument.of(load_policy(value)).model_dump()


def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) is list:
        return True
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return False


def _extra(name: str) -> dict[str, Any]:
    extra = TranscriptionRequest.model_fields[name].json_schema_extra
    return dict(extra) if isinstance(extra, dict) else {}


def _http_fields() -> list[str]:
    return [name for name in TranscriptionRequest.model_fields if _extra(name).get("http", True)]


class RequestForm(BaseModel):
    """Base of the HTTP form model: every field a string as the client sent it, validated by
    :func:`parse_request` (so a form and the CLI get the same messages)."""

    def options(self) -> dict[str, object]:
        """The fields that were given, for :func:`parse_request`."""
        return {k: v for k, v in self.model_dump().items() if v is not None and v != ""}


def form_model(name: str = "JobCreate") -> type[RequestForm]:
    """The form fields of an upload besides ``file``: one optional string per request field (a list field
    as comma-separated values), described as the request describes them."""
    fields: dict[str, Any] = {}
    for field_name in _http_fields():
        field = TranscriptionRequest.model_fields[field_name]
        fields[field_name] = (str | None, Field(default=None, description=field.description))
    model: type[RequestForm] = create_model(name, __base__=RequestForm, **fields)
    model.__doc__ = "The form fields of an upload besides ``file``; validated by ``parse_request``."
    return model


@dataclass(frozen=True)
class CliOption:
    """One ``verbatim transcribe`` option of the request (the CLI turns it into a ``typer.Option``).

    Attributes:
        name: the request field (and the command's parameter).
        flags: the option's declarations (``--diarize/--no-diarize`` for a flag).
        annotation: the parameter's type as the CLI parses it (``str | None``, ``int | None``, ``bool``,
            ``list[str] | None``); the request validates the value.
        default: shown in the help; ``None`` when the settings choose it.
        help: the field's description.
    """

    name: str
    flags: tuple[str, ...]
    annotation: Any
    default: Any
    help: str


def cli_options() -> list[CliOption]:
    """The ``verbatim transcribe`` options of the request, for a command that hands them to
    :func:`parse_request`."""
    options: list[CliOption] = []
    for name, field in TranscriptionRequest.model_fields.items():
        flag = _extra(name).get("cli", "--" + name.replace("_", "-"))
        if flag is False:
            continue
        default = None if name in SETTINGS_DEFAULTS else field.get_default(call_default_factory=True)
        annotation: Any
        if field.annotation is bool:
            annotation, flags = bool, (f"{flag}/--no-{str(flag).removeprefix('--')}",)
        elif _is_list(field.annotation):
            annotation, flags, default = list[str] | None, (str(flag),), None
        else:
            kinds = [a for a in typing.get_args(field.annotation) if a is not type(None)] or [
                field.annotation
            ]
            annotation = int | None if kinds == [int] else str | None
            flags = (str(flag),)
        options.append(CliOption(name, flags, annotation, default, field.description or ""))
    return options
