from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import Field

from verbatim.errors import InvalidOptionError
from verbatim.jobs.request import (
    PolicyDocument,
    TranscriptionRequest,
    cli_options,
    form_model,
    parse_request,
    policy_option,
)
from verbatim.ops.settings import Settings


def test_defaults_and_round_trip_through_json() -> None:
    request = parse_request({})
    assert request.language == "auto" and request.diarize and request.channels == "mix"
    assert TranscriptionRequest.model_validate_json(request.model_dump_json()) == request


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"language": "xx"}, "Unknown language 'xx'"),
        ({"task": "summarize"}, "task"),
        ({"num_speakers": 0}, "num_speakers"),
        ({"min_speakers": 4, "max_speakers": 2}, "min_speakers must not exceed max_speakers"),
        ({"channels": "left"}, "channels"),
        ({"colour": "blue"}, "colour"),
        ({"languages": "fr,auto"}, "languages: give ISO 639-1 codes"),
        ({"languages": "fr,xx"}, "languages: Unknown language 'xx'"),
        ({"prompt": "x" * 1001}, "prompt"),
        ({"prompt": "Dupont\x07"}, "prompt: control characters"),
        ({"vocabulary": ["Dupont", "x" * 101]}, "vocabulary: each term"),
    ],
)
def test_invalid_options_name_the_faulty_option(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidOptionError, match=message):
        parse_request(data)


def test_the_default_policy_comes_from_the_settings_at_parse_time(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, models_dir=tmp_path, pseudonymization={"default_policy": "open-data"})
    request = parse_request({"pseudonymize": True}, settings)
    assert request.pseudonymization_policy == "open-data"
    assert request.policy().alias_style == "letters"
    # stored and read back as it was resolved: a later change of the setting does not touch the job
    stored = request.to_stored()
    assert TranscriptionRequest.from_stored(stored) == request
    named = parse_request({"pseudonymization_policy": "hearing"}, settings)
    assert named.pseudonymization_policy == "hearing"


def test_a_default_policy_file_is_stored_whole_with_the_request(tmp_path: Path) -> None:
    path = tmp_path / "unit.json"
    path.write_text(json.dumps({"name": "unit", "base": "hearing", "operators": {"AGE": "redact"}}))
    settings = Settings(home=tmp_path, models_dir=tmp_path, pseudonymization={"default_policy": str(path)})
    request = parse_request({}, settings)
    assert isinstance(request.pseudonymization_policy, PolicyDocument)
    path.unlink()  # the job no longer depends on the file
    policy = TranscriptionRequest.from_stored(request.to_stored()).policy()
    assert policy.name == "unit" and policy.operator_for("AGE") == "redact"
    assert policy.operator_for("PER") == "pseudonym"  # from its base


def test_http_and_cli_accept_the_same_policy_document(tmp_path: Path) -> None:
    """The form takes the JSON document itself; the CLI also a file holding it: the same request results."""
    document = {"name": "court", "base": "open-data", "operators": {"CASE_NUMBER": "keep"}}
    path = tmp_path / "court.json"
    path.write_text(json.dumps(document))
    settings = Settings(home=tmp_path, models_dir=tmp_path)
    from_form = parse_request({"pseudonymization_policy": json.dumps(document)}, settings)
    from_cli = parse_request({"pseudonymization_policy": policy_option(str(path))}, settings)
    assert from_form == from_cli
    assert from_form.policy().operator_for("CASE_NUMBER") == "keep"
    assert policy_option("hearing") == "hearing"


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("nope", "pseudonymization_policy: choose one of hearing, open-data"),
        ('{"operators": {"PER": "shred"}}', "unknown operator 'shred'"),
        ('{"operators": ', "not a JSON policy document"),
    ],
)
def test_a_bad_policy_names_the_option(policy: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidOptionError, match=message):
        parse_request({"pseudonymization_policy": policy}, Settings(home=tmp_path, models_dir=tmp_path))


def test_the_form_and_the_cli_options_are_derived_from_the_request() -> None:
    form = form_model()
    fields = set(TranscriptionRequest.model_fields)
    assert set(form.model_fields) == fields - {"model", "beam_size"}  # those two stay the server's choice
    assert form(language="fr", diarize="").options() == {"language": "fr"}
    options = {o.name: o for o in cli_options()}
    assert set(options) == fields - {"vocabulary"}  # the CLI reads it from --vocabulary FILE
    assert options["languages"].flags == ("--languages",) and options["prompt"].flags == ("--prompt",)
    assert options["pseudonymization_policy"].flags == ("--policy",)
    assert options["pseudonymization_policy"].default is None  # the settings choose it
    assert options["diarize"].flags == ("--diarize/--no-diarize",) and options["diarize"].default is True
    assert options["translate_to"].flags == ("--translate-to",)


def test_a_new_list_field_takes_comma_separated_values_from_a_form_or_the_cli() -> None:
    """How another field is added (see the module's docstring): declared once, the rest follows."""

    class Extended(TranscriptionRequest):
        exhibits: list[str] = Field(default_factory=list, description="Exhibit numbers.")

    assert Extended.model_validate({"exhibits": "P1, P2"}).exhibits == ["P1", "P2"]
    assert Extended.model_validate({"exhibits": ["P1"]}).exhibits == ["P1"]
    assert Extended.model_validate({}).exhibits == []


def test_expected_languages_prompt_and_vocabulary() -> None:
    request = parse_request(
        {"languages": "fr, AR,en,fr", "prompt": " Maître Dupont ", "vocabulary": "USOC,Mashhad"}
    )
    assert request.languages == ["fr", "ar", "en"]  # normalised, once each
    assert request.vocabulary == ["USOC", "Mashhad"]
    assert request.initial_prompt() == "USOC, Mashhad. Maître Dupont"
    assert parse_request({}).initial_prompt() is None
    stored = TranscriptionRequest.from_stored(request.to_stored())
    assert stored == request
    # a job stored before these fields existed reads with their defaults
    old = TranscriptionRequest.from_stored({"language": "fr"})
    assert old.languages == [] and old.prompt is None and old.vocabulary == []


def test_the_hide_list_from_a_form_or_the_cli() -> None:
    request = parse_request({"pseudonymize": "true", "hide": "Julie Martin, Ju\u200blie ,Samia Benali"})
    assert request.hide == ["Julie Martin", "Julie", "Samia Benali"]
    assert parse_request({"pseudonymize": True, "hide": ["Julie Martin"]}).hide == ["Julie Martin"]
    with pytest.raises(InvalidOptionError, match="hide: names to hide go with pseudonymize=true"):
        parse_request({"hide": "Julie"})
    assert any(o.name == "hide" and o.flags == ("--hide",) for o in cli_options())
    assert "hide" in form_model().model_fields


def test_the_hide_list_is_never_shown_with_the_job() -> None:
    from datetime import UTC, datetime

    from verbatim.api.schemas import JobPublic

    stored = parse_request({"pseudonymize": True, "hide": "Julie Martin"}).to_stored()
    assert stored["hide"] == ["Julie Martin"]
    public = JobPublic.model_validate(
        {
            "id": "j", "status": "queued", "progress": 0.0, "error": None, "created_at": datetime.now(UTC),
            "started_at": None, "finished_at": None, "language": None, "duration": None, "audio_sha256": None,
            "audio_size": None, "filename": None, "unit": "u", "options": stored,
        }
    )  # fmt: skip
    assert "hide" not in public.options and public.options["pseudonymize"] is True


def test_naming_by_known_voices_is_on_unless_a_job_turns_it_off() -> None:
    assert TranscriptionRequest().voices is True
    assert (
        TranscriptionRequest.from_stored({"language": "fr"}).voices is True
    )  # jobs stored before the switch
    off = parse_request({"voices": "false"})
    assert off.voices is False and TranscriptionRequest.from_stored(off.to_stored()).voices is False
    assert form_model()(voices="false").options() == {"voices": "false"}
    option = next(o for o in cli_options() if o.name == "voices")
    assert option.flags == ("--voices/--no-voices",) and option.default is True
