"""The OpenAI-compatible routes, driven by the official ``openai`` client against a real uvicorn server."""

from __future__ import annotations

import re
from collections.abc import Iterator

import openai
import pytest

from tests.api.conftest import JFK, make_settings
from verbatim.api.deps import ServiceState
from verbatim.api.serving import ApiThread
from verbatim.ops.accounts import create_user
from verbatim.server import create_app

PHRASE = "ask not what your country can do for you"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, ServiceState]]:
    app = create_app(make_settings(tmp_path_factory.mktemp("openai-home")), poll_interval_s=0.05)
    server = ApiThread(app)
    state: ServiceState = app.state.verbatim
    with state.sessions() as session:
        _, token = create_user(session, name="consul", role="diplomat", unit="consulate-x")
    yield f"{server.base_url}/v1", token, state
    server.stop(timeout=30)


@pytest.fixture
def client(server: tuple[str, str, ServiceState]) -> openai.OpenAI:
    base_url, token, _ = server
    return openai.OpenAI(base_url=base_url, api_key=token, max_retries=0, timeout=120)


def _words(text: str) -> str:
    return re.sub(r"[^a-z ]", "", text.lower())


def test_json(client: openai.OpenAI) -> None:
    with JFK.open("rb") as fh:
        result = client.audio.transcriptions.create(model="whisper-1", file=fh, language="en")
    assert PHRASE in _words(result.text)


def test_text(client: openai.OpenAI) -> None:
    with JFK.open("rb") as fh:
        result = client.audio.transcriptions.create(model="whisper-1", file=fh, response_format="text")
    assert isinstance(result, str) and PHRASE in _words(result)


def test_srt_and_vtt(client: openai.OpenAI) -> None:
    with JFK.open("rb") as fh:
        srt = client.audio.transcriptions.create(model="whisper-1", file=fh, response_format="srt")
    assert isinstance(srt, str) and srt.startswith("1\n")
    assert re.search(r"^00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}$", srt, re.M)
    with JFK.open("rb") as fh:
        vtt = client.audio.transcriptions.create(model="whisper-1", file=fh, response_format="vtt")
    assert isinstance(vtt, str) and vtt.startswith("WEBVTT")


def test_verbose_json(client: openai.OpenAI) -> None:
    with JFK.open("rb") as fh:
        result = client.audio.transcriptions.create(
            model="whisper-1", file=fh, response_format="verbose_json", timestamp_granularities=["word"]
        )
    assert result.language == "en" and 10.5 < result.duration < 11.5
    assert PHRASE in _words(result.text)
    assert result.segments and result.segments[0].start >= 0 and result.segments[-1].end <= 11.5
    assert all(s.end >= s.start for s in result.segments)
    assert result.words and "country" in [_words(w.word).strip() for w in result.words]


def test_the_prompt_is_honoured(client: openai.OpenAI, server: tuple[str, str, ServiceState]) -> None:
    from sqlalchemy import select

    from verbatim.ops.db import Job

    prompt = "President Kennedy, fellow Americans."
    with JFK.open("rb") as fh:
        result = client.audio.transcriptions.create(model="whisper-1", file=fh, language="en", prompt=prompt)
    assert PHRASE in _words(result.text)
    with server[2].sessions() as session:
        job = session.scalars(select(Job).order_by(Job.created_at.desc()).limit(1)).one()
    assert job.options["prompt"] == prompt  # the job's request carries it to the recogniser


def test_translation(client: openai.OpenAI) -> None:
    # Whisper's translate task on an English clip gives English text back.
    with JFK.open("rb") as fh:
        result = client.audio.translations.create(model="whisper-1", file=fh)
    assert "country" in _words(result.text)
    with JFK.open("rb") as fh:
        verbose = client.audio.translations.create(model="whisper-1", file=fh, response_format="verbose_json")
    assert verbose.duration > 10 and verbose.segments


def test_errors_come_back_as_client_errors(
    client: openai.OpenAI, server: tuple[str, str, ServiceState]
) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        client.audio.transcriptions.create(
            model="whisper-1", file=("notes.txt", b"plain text, not audio" * 20)
        )
    assert info.value.status_code == 415
    with pytest.raises(openai.UnprocessableEntityError):
        client.audio.transcriptions.create(
            model="whisper-1", file=(JFK.name, JFK.read_bytes()), language="klingon"
        )
    bad = openai.OpenAI(base_url=server[0], api_key="vbt_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.audio.transcriptions.create(model="whisper-1", file=(JFK.name, JFK.read_bytes()))
