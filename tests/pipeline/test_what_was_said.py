"""What was said, with the real models on the bundled sample (three read FLEURS utterances, CC BY 4.0, see
samples/README.md): no lost passage, French throughout, no stretch of audio twice, whole French words in every
format, the same transcript every time; ``languages`` restricts identification; a prompt fixes a rare name.

Assertions hold on any x86-64 CPU: counts with a margin and words the model does not hesitate on."""

from __future__ import annotations

import io
import itertools
import re

import pytest

from tests.conftest import REPO
from verbatim.pipeline.asr import AsrOptions
from verbatim.pipeline.decode import decode
from verbatim.pipeline.export import render
from verbatim.pipeline.runner import PipelineOptions, TranscriptionPipeline
from verbatim.pipeline.types import Audio, Transcript

pytestmark = pytest.mark.models

SAMPLE = REPO / "samples" / "audition-exemple.ogg"
REFERENCE = (
    "nous sommes d'accord avec la déclaration de l'usoc comité olympique des états-unis selon laquelle les "
    "intérêts de nos athlètes et de nos clubs ainsi que de leur sport pourraient être mieux servis cela peut "
    "être fait en allant de l'avant et en procédant plutôt à des changements significatifs au sein de notre "
    "organisation qu'à la révocation d'accréditation "
    "le même mois un autre avion de ligne a fait une sortie de piste à mashhad et a heurté un mur tuant "
    "ainsi dix-sept personnes "
    "le rugissement du tigre ne ressemble pas au rugissement ample du lion mais plutôt à une phrase dont les "
    "mots seraient des cris et des grondements"
)


def _words(text: str) -> list[str]:
    return re.sub(r"[^\w'-]+", " ", text.lower().replace("’", "'")).split()


@pytest.fixture(scope="module")
def sample() -> Audio:
    return decode(SAMPLE)


@pytest.fixture(scope="module")
def runs(asr, sample: Audio) -> tuple[Transcript, Transcript]:  # type: ignore[no-untyped-def]
    """The sample twice with the CLI's defaults (language detected; diarisation aside: it moves no word),
    another recording decoded in between (what a worker decoded before must not change the words)."""
    from tests.conftest import DATA

    pipeline = TranscriptionPipeline(asr)
    options = PipelineOptions(diarize=False)
    first = pipeline.run_audio(sample, options)
    pipeline.run_audio(decode(DATA / "jfk.flac"), options)
    return first, pipeline.run_audio(sample, options)


def test_the_sample_is_french_throughout_and_no_stretch_is_transcribed_twice(
    runs: tuple[Transcript, Transcript],
) -> None:
    transcript = runs[0]
    assert transcript.language == "fr"
    assert transcript.segments and all(s.language == "fr" for s in transcript.segments)
    for a, b in itertools.pairwise(transcript.segments):
        assert a.end <= b.start, (a, b)


def test_no_passage_of_the_sample_is_lost(runs: tuple[Transcript, Transcript]) -> None:
    import jiwer

    hypothesis = " ".join(_words(runs[0].text))
    measures = jiwer.process_words(REFERENCE, hypothesis)
    assert measures.deletions <= 0.1 * len(REFERENCE.split()), hypothesis
    # each of the three utterances is there: words the model does not hesitate on
    for word in ("déclaration", "organisation", "personnes", "tigre"):
        assert word in hypothesis


def test_two_runs_give_the_same_transcript(runs: tuple[Transcript, Transcript]) -> None:
    assert render(runs[0], "json") == render(runs[1], "json")
    asr = runs[0].models["asr"]
    # what else decides the words is recorded with them
    assert {"ctranslate2", "compute_type", "cpu_isa", "seed", "temperatures"} <= set(asr)


@pytest.mark.parametrize("fmt", ["txt", "srt", "vtt", "docx"])
def test_no_french_word_is_cut_apart_in_any_format(runs: tuple[Transcript, Transcript], fmt: str) -> None:
    data = render(runs[0], fmt)
    if fmt == "docx":
        import docx

        text = "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)
    else:
        text = data.decode("utf-8")
    assert not re.search(r"\w\s+['’]\w", text), text  # "d 'accord", "l 'avant", "qu 'à"
    assert not re.search(r"États\s+-", text), text
    assert "d'accord" in text.replace("’", "'")


def test_languages_restrict_identification(asr, sample: Audio) -> None:  # type: ignore[no-untyped-def]
    # a French recording with only English and German allowed: every segment gets one of those two
    part = Audio(sample.samples[: 16000 * 13], sample.sha256, sample.filename)
    options = PipelineOptions(asr=AsrOptions(languages=("en", "de")), diarize=False)
    transcript = TranscriptionPipeline(asr).run_audio(part, options)
    assert transcript.segments
    assert transcript.language in ("en", "de")
    assert {s.language for s in transcript.segments} <= {"en", "de"}
    assert transcript.models["asr"]["languages"] == "en,de"


def test_a_prompt_gives_a_rare_name_its_spelling(asr, sample: Audio) -> None:  # type: ignore[no-untyped-def]
    # "la déclaration de l'USOC (Comité olympique des États-Unis)": the acronym is heard as "Lusok" or the
    # like without help; the case's vocabulary gives it
    part = Audio(sample.samples[: 16000 * 13], sample.sha256, sample.filename)
    prompt = "USOC, Comité olympique des États-Unis."
    options = PipelineOptions(asr=AsrOptions(language="fr", initial_prompt=prompt), diarize=False)
    transcript = TranscriptionPipeline(asr).run_audio(part, options)
    assert "USOC" in transcript.text
    assert transcript.models["asr"]["prompt"] == prompt


def test_the_sample_heard_through_a_phone_line_keeps_its_passages(asr, sample: Audio) -> None:  # type: ignore[no-untyped-def]
    # Silero scores band-limited speech lower: the narrowband threshold is the one used, and no utterance of
    # the sample is lost on the way (the words themselves are harder to make out: the count has a margin)
    import jiwer

    from verbatim.bench.worker import phone_band

    phone = Audio(phone_band(sample.samples), sample.sha256, sample.filename)
    transcript = TranscriptionPipeline(asr).run_audio(phone, PipelineOptions(diarize=False))
    assert transcript.models["asr"]["vad_threshold"] == f"{AsrOptions().narrowband_vad_threshold:g}"
    assert transcript.language == "fr"
    assert all(s.language == "fr" for s in transcript.segments)
    for a, b in itertools.pairwise(transcript.segments):
        assert a.end <= b.start, (a, b)
    hypothesis = " ".join(_words(transcript.text))
    measures = jiwer.process_words(REFERENCE, hypothesis)
    assert measures.deletions <= 0.15 * len(REFERENCE.split()), hypothesis
    # speech from the start to the end of the recording: the first and the last utterance are there
    assert transcript.segments[0].start < 3.0 and transcript.segments[-1].end > sample.duration - 4.0
