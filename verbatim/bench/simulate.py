"""Simulated conversations: many speakers, phone lines, far voices, back-channels and overlap, with exact
reference turns.

Openly licensed conversations with speaker references are scarce, so most of the diarisation tuning rests on
recordings assembled here from single-speaker speech of several corpora. A conversation draws 1 to 7
different voices, lets them take turns (pauses, some overlap, short back-channels such as "oui", "hm" cut from
another speaker), and sometimes degrades it as a real recording would be: band-limited to a phone line
(300-3400 Hz, 8 kHz), or with one speaker far from the microphone (12-20 dB quieter). The reference turns are
the speech regions (Silero VAD on the clean source) of every piece placed, so pauses inside a piece are not
counted as speech.

Everything is seeded and built at bench or test time from the sources; nothing generated is committed.
:func:`load_voices` reads the shared evaluation folder; tests build :class:`Voice` objects from committed
fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from verbatim.pipeline.types import SAMPLE_RATE

__all__ = [
    "MIN_PIECE_SECONDS",
    "Conversation",
    "SimulationOptions",
    "Voice",
    "load_voices",
    "merge_same_speakers",
    "simulate_conversation",
    "simulated_conversations",
    "speech_regions",
    "voice_from_samples",
]

SAME_SPEAKER_SIMILARITY = 0.65
"""CAM++ cosine similarity of two clean 8 s clips above which they are taken as one person (measured on the
shared data: clips of one FLEURS reader score 0.72-0.88, different people at most 0.61)."""

MIN_PIECE_SECONDS = 2.0
"""Shortest source piece (s) a voice is drawn from. A shorter stretch where one AMI or TCOF participant
"talks alone" according to the RTTM is often a turn edge holding another participant's voice or a cough;
drawn as a turn or a back-channel, it put a second voice under one reference speaker (the held-out
conversation sim-3-008 was a single speaker built from such stretches). Shorter pieces are left out, and a
voice left with under 2 s of speech is not drawn at all (4 of 49 voices: AMI FEO070 and MEE073, two TCOF
speakers)."""

_TARGET_RMS = 0.05  # about -26 dBFS: every source is brought to a common level before the mix


@dataclass(frozen=True)
class Voice:
    """Single-speaker speech of one person.

    Attributes:
        speaker: a key unique to the person across corpora (``corpus/speaker``).
        corpus: where the speech comes from (conversations prefer voices of different corpora).
        pieces: 16 kHz float32 recordings of that person alone, level-normalised.
        regions: for each piece, its speech regions ``(start, end)`` in seconds.
    """

    speaker: str
    corpus: str
    pieces: tuple[npt.NDArray[np.float32], ...]
    regions: tuple[tuple[tuple[float, float], ...], ...]

    @property
    def speech_seconds(self) -> float:
        return sum(e - s for piece in self.regions for s, e in piece)


@dataclass(frozen=True)
class SimulationOptions:
    """How conversations are drawn (defaults: the ``simulated`` bench set).

    Attributes:
        min_speakers / max_speakers: the number of speakers is drawn uniformly in this range.
        min_duration / max_duration: target length (s); the conversation stops after the turn that passes it.
        turn_seconds: (shortest, longest) turn cut from a voice's speech.
        pause_seconds: (shortest, longest) silence between turns.
        overlap_probability: chance that a turn starts before the previous one ends (by 0.2-1 s).
        backchannel_probability: chance, per turn, of a 0.3-1 s interjection by another speaker inside it.
        phone_probability: chance that the whole conversation is band-limited to a phone line.
        far_probability: chance that one speaker is 12-20 dB quieter than the others.
        noise_db: level of the background noise relative to the speech level.
        seconds_per_speaker: added to the target length for each speaker.
    """

    min_speakers: int = 1
    max_speakers: int = 7
    min_duration: float = 20.0
    max_duration: float = 60.0
    turn_seconds: tuple[float, float] = (1.5, 9.0)
    pause_seconds: tuple[float, float] = (0.1, 1.2)
    overlap_probability: float = 0.15
    backchannel_probability: float = 0.2
    phone_probability: float = 0.3
    far_probability: float = 0.3
    noise_db: float = -45.0
    seconds_per_speaker: float = 10.0


@dataclass(frozen=True)
class Conversation:
    """One simulated recording and its reference.

    Attributes:
        id: name within the set.
        samples: 16 kHz float32 mono.
        turns: reference ``(start, end, speaker)`` sorted by start; overlapping turns are allowed.
        speakers: the voices taking part (keys of :attr:`Voice.speaker`).
        phone: band-limited to a phone line.
        far_speaker: the speaker made quieter, if any.
    """

    id: str
    samples: npt.NDArray[np.float32]
    turns: tuple[tuple[float, float, str], ...]
    speakers: tuple[str, ...]
    phone: bool = False
    far_speaker: str | None = None
    tags: tuple[str, ...] = field(default=())

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE


# --- sources ------------------------------------------------------------------------------------------------


def speech_regions(samples: npt.NDArray[np.float32]) -> list[tuple[float, float]]:
    """Speech regions (s) of a clean single-speaker recording: Silero VAD (shipped with faster-whisper),
    pauses under 0.25 s bridged."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    found = get_speech_timestamps(
        np.asarray(samples, dtype=np.float32),
        VadOptions(threshold=0.5, min_silence_duration_ms=250, speech_pad_ms=30, min_speech_duration_ms=100),
    )
    return [(r["start"] / SAMPLE_RATE, r["end"] / SAMPLE_RATE) for r in found]


def _normalise(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    x = np.asarray(samples, dtype=np.float32)
    loud = np.abs(x) > 0.1 * np.abs(x).max(initial=0.0)  # level of the speech, not of the pauses
    rms = float(np.sqrt(np.mean(x[loud] ** 2))) if loud.any() else 0.0
    return x if rms <= 0 else np.clip(x * (_TARGET_RMS / rms), -1.0, 1.0).astype(np.float32)


def voice_from_samples(speaker: str, corpus: str, pieces: Sequence[npt.NDArray[np.float32]]) -> Voice | None:
    """A :class:`Voice` from recordings of one person (16 kHz): level-normalised, speech regions found; pieces
    shorter than :data:`MIN_PIECE_SECONDS` are left out.

    Returns:
        None when no piece is long enough and holds speech.
    """
    kept: list[npt.NDArray[np.float32]] = []
    regions: list[tuple[tuple[float, float], ...]] = []
    for piece in pieces:
        if len(piece) < round(MIN_PIECE_SECONDS * SAMPLE_RATE):
            continue
        clean = _normalise(piece)
        found = speech_regions(clean)
        if found:
            kept.append(clean)
            regions.append(tuple(found))
    if not kept:
        return None
    return Voice(speaker=speaker, corpus=corpus, pieces=tuple(kept), regions=tuple(regions))


def _alone_stretches(
    turns: Sequence[tuple[float, float, str]], speaker: str, min_seconds: float
) -> list[tuple[float, float]]:
    """Stretches where ``speaker`` talks and nobody else does, at least ``min_seconds`` long."""
    others = sorted((s, e) for s, e, spk in turns if spk != speaker)
    out: list[tuple[float, float]] = []
    for start, end, spk in sorted(turns):
        if spk != speaker:
            continue
        pieces = [(start, end)]
        for o_start, o_end in others:
            nxt: list[tuple[float, float]] = []
            for s, e in pieces:
                if o_end <= s or o_start >= e:
                    nxt.append((s, e))
                    continue
                if o_start > s:
                    nxt.append((s, o_start))
                if o_end < e:
                    nxt.append((o_end, e))
            pieces = nxt
        out += [(s, e) for s, e in pieces if e - s >= min_seconds]
    return out


def load_voices(data: Path) -> list[Voice]:
    """Every single-speaker voice the shared evaluation folder offers, one :class:`Voice` per person.

    FLEURS (25 read clips, 5 languages), Picovoice (8 languages), SPPAS (read paragraphs, 4 languages; GPL:
    read at run time only), the faster-whisper samples (JFK; the two voices of the stereo clip, one per
    channel), and the stretches where one speaker of an AMI meeting or a TCOF recording talks alone (cut with
    their RTTM). Folders that are missing are skipped.
    """
    from verbatim.pipeline.decode import decode, decode_channels

    found: dict[str, tuple[str, list[npt.NDArray[np.float32]]]] = {}

    def add(speaker: str, corpus: str, samples: npt.NDArray[np.float32]) -> None:
        found.setdefault(speaker, (corpus, []))[1].append(np.asarray(samples, dtype=np.float32))

    for path in sorted((data / "fleurs-test-5lang").glob("fleurs-*.ogg")):
        add(f"fleurs/{path.stem}", "fleurs", decode(path).samples)
    for path in sorted((data / "picovoice-leopard-multilang").glob("test*.wav")):
        add(f"picovoice/{path.stem}", "picovoice", decode(path).samples)
    for path in sorted((data / "sppas-samples").glob("*/*.wav")):
        # file names carry the speaker: F_F_B003-P8 (speaker B003), ENG_M15_ENG_T02 (speaker M15)
        parts = path.stem.split("_")
        person = parts[2].split("-")[0] if parts[0] == "F" else parts[1]
        add(f"sppas/{parts[0]}-{person}", "sppas", decode(path).samples)
    fw = data / "faster-whisper-testdata"
    if (fw / "jfk.flac").is_file():
        add("faster-whisper/jfk", "faster-whisper", decode(fw / "jfk.flac").samples)
    if (fw / "stereo_diarization.wav").is_file():
        for channel, audio in enumerate(decode_channels(fw / "stereo_diarization.wav")):
            add(f"faster-whisper/stereo-{channel}", "faster-whisper", audio.samples)
    for folder, corpus in (("pyannote-ami-debug", "ami"), ("tcof-fr-spontaneous", "tcof")):
        from verbatim.pipeline.der import read_rttm

        for rttm in sorted((data / folder).glob("*.rttm")):
            for file_id, turns in read_rttm(rttm).items():
                wav = data / folder / f"{file_id}.wav"
                if not wav.is_file():
                    continue
                samples = decode(wav).samples
                triples = [(t.start, t.end, t.speaker) for t in turns]
                for speaker in sorted({t.speaker for t in turns}):
                    # AMI speaker ids name people across meetings; TCOF's only within a recording
                    key = f"ami/{speaker}" if corpus == "ami" else f"tcof/{file_id}-{speaker}"
                    for s, e in _alone_stretches(triples, speaker, MIN_PIECE_SECONDS):
                        add(key, corpus, samples[round(s * SAMPLE_RATE) : round(e * SAMPLE_RATE)])
    voices = []
    for speaker, (corpus, pieces) in found.items():
        voice = voice_from_samples(speaker, corpus, pieces)
        if voice is not None and voice.speech_seconds >= 2.0:
            voices.append(voice)
    return voices


def merge_same_speakers(
    voices: Sequence[Voice],
    embed: Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]],
    threshold: float = SAME_SPEAKER_SIMILARITY,
) -> list[Voice]:
    """Join the voices of one corpus that are one person.

    Corpora do not always say who speaks: the FLEURS clips of one language come from a few readers (fr-003
    and fr-004 are one woman). Two voices of one corpus whose embeddings (of their first 8 s) have a cosine
    similarity of at least ``threshold`` are taken as one person (transitively), so that a simulated
    conversation never counts one person twice.

    Args:
        embed: one speaker embedding of a 16 kHz recording.
    """
    vectors = []
    for voice in voices:
        vector = np.asarray(embed(voice.pieces[0][: 8 * SAMPLE_RATE]), dtype=np.float64)
        vectors.append(vector / max(float(np.linalg.norm(vector)), 1e-12))
    group = list(range(len(voices)))

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for i in range(len(voices)):
        for j in range(i + 1, len(voices)):
            same_corpus = voices[i].corpus == voices[j].corpus
            if same_corpus and float(vectors[i] @ vectors[j]) >= threshold:
                group[root(j)] = root(i)
    merged: dict[int, list[Voice]] = {}
    for i, voice in enumerate(voices):
        merged.setdefault(root(i), []).append(voice)
    out = []
    for members in merged.values():
        first = members[0]
        out.append(
            Voice(
                speaker="+".join(v.speaker for v in members) if len(members) > 1 else first.speaker,
                corpus=first.corpus,
                pieces=tuple(p for v in members for p in v.pieces),
                regions=tuple(r for v in members for r in v.regions),
            )
        )
    return out


# --- the generator ------------------------------------------------------------------------------------------


def _phone_line(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """300-3400 Hz telephone band, through 8 kHz and back, with mu-law companding (G.711)."""
    from scipy.signal import butter, resample_poly, sosfilt

    sos = butter(4, [300.0, 3400.0], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    band = sosfilt(sos, samples)
    narrow = resample_poly(band, 1, 2)
    mu = 255.0
    companded = np.sign(narrow) * np.log1p(mu * np.clip(np.abs(narrow), 0, 1)) / np.log1p(mu)
    quantised = np.round(companded * 127) / 127
    expanded = np.sign(quantised) * np.expm1(np.abs(quantised) * np.log1p(mu)) / mu
    return np.asarray(resample_poly(expanded, 2, 1)[: len(samples)], dtype=np.float32)


def _cut(
    voice: Voice, rng: np.random.Generator, seconds: float
) -> tuple[npt.NDArray[np.float32], list[tuple[float, float]]]:
    """About ``seconds`` of one voice, starting and ending at speech-region edges when it can; returns the
    samples and their speech regions (relative)."""
    index = int(rng.integers(len(voice.pieces)))
    piece, regions = voice.pieces[index], voice.regions[index]
    first = int(rng.integers(len(regions)))
    start = regions[first][0]
    end = regions[first][1]
    for _s, e in regions[first + 1 :]:
        if e - start > seconds:
            break
        end = e
    if end - start > seconds:  # a long region: cut inside it
        end = start + seconds
    start = max(0.0, start - 0.05)
    end = min(len(piece) / SAMPLE_RATE, end + 0.05)
    clip = piece[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)]
    inside = [(max(s, start) - start, min(e, end) - start) for s, e in regions if e > start and s < end]
    return clip, [(s, e) for s, e in inside if e - s > 0.05]


def simulate_conversation(
    voices: Sequence[Voice],
    rng: np.random.Generator,
    options: SimulationOptions = SimulationOptions(),
    *,
    num_speakers: int | None = None,
    conversation_id: str = "conversation",
) -> Conversation:
    """Draw one conversation.

    Args:
        voices: candidate voices (at least ``num_speakers`` of them).
        rng: the random generator (its state decides everything).
        options: how conversations look.
        num_speakers: how many speakers take part (default: drawn from the options' range).
        conversation_id: its name.

    Raises:
        ValueError: fewer voices than speakers.
    """
    n = num_speakers or int(rng.integers(options.min_speakers, options.max_speakers + 1))
    if n > len(voices):
        raise ValueError(f"{n} speakers wanted, {len(voices)} voices available")
    # voices of different corpora first (a meeting of five FLEURS readers is too easy), then any
    order = list(rng.permutation(len(voices)))
    chosen: list[Voice] = []
    corpora: set[str] = set()
    for i in order:
        if len(chosen) < n and voices[i].corpus not in corpora:
            chosen.append(voices[i])
            corpora.add(voices[i].corpus)
    for i in order:
        if len(chosen) < n and voices[i] not in chosen:
            chosen.append(voices[i])
    phone = bool(rng.random() < options.phone_probability)
    far = chosen[int(rng.integers(n))].speaker if n > 1 and rng.random() < options.far_probability else None
    gains = {
        v.speaker: float(10 ** ((-rng.uniform(12, 20) if v.speaker == far else rng.uniform(-3, 3)) / 20))
        for v in chosen
    }
    # a meeting of seven is longer than a phone call: every speaker gets some room
    target = float(rng.uniform(options.min_duration, options.max_duration)) + options.seconds_per_speaker * n
    # every speaker talks at least once (a short second speaker is a speaker), then turns at random
    schedule = [v.speaker for v in chosen]
    rng.shuffle(schedule)
    placed: list[tuple[float, str, npt.NDArray[np.float32], list[tuple[float, float]]]] = []
    by_key = {v.speaker: v for v in chosen}
    cursor = 0.0
    previous: str | None = None
    turn = 0
    while turn < len(schedule) or cursor < target:
        if turn < len(schedule):
            speaker = schedule[turn]
        else:
            others = [v.speaker for v in chosen if v.speaker != previous] or [chosen[0].speaker]
            speaker = others[int(rng.integers(len(others)))]
        turn += 1
        clip, regions = _cut(by_key[speaker], rng, float(rng.uniform(*options.turn_seconds)))
        if not regions:
            continue
        start = cursor + float(rng.uniform(*options.pause_seconds))
        if placed and rng.random() < options.overlap_probability:
            start = max(placed[-1][0], cursor - float(rng.uniform(0.2, 1.0)))
        placed.append((start, speaker, clip, regions))
        length = len(clip) / SAMPLE_RATE
        if n > 1 and length > 2.0 and rng.random() < options.backchannel_probability:
            listener = [v.speaker for v in chosen if v.speaker != speaker]
            who = listener[int(rng.integers(len(listener)))]
            bit, bit_regions = _cut(by_key[who], rng, float(rng.uniform(0.3, 1.0)))
            if bit_regions:
                placed.append((start + float(rng.uniform(0.5, length - 0.5)), who, bit, bit_regions))
        cursor = max(cursor, start + length)
        previous = speaker
    total = round((cursor + 0.5) * SAMPLE_RATE)
    mix = np.zeros(total, dtype=np.float32)
    turns: list[tuple[float, float, str]] = []
    for start, speaker, clip, regions in placed:
        first = round(start * SAMPLE_RATE)
        mix[first : first + len(clip)] += clip * gains[speaker]
        turns += [(round(start + s, 3), round(start + e, 3), speaker) for s, e in regions]
    mix += (rng.standard_normal(total) * _TARGET_RMS * 10 ** (options.noise_db / 20)).astype(np.float32)
    if phone:
        mix = _phone_line(mix)
    peak = float(np.abs(mix).max(initial=0.0))
    if peak > 0.99:
        mix = mix * (0.99 / peak)
    tags = tuple(t for t, on in (("phone", phone), ("far", far is not None)) if on)
    return Conversation(
        id=conversation_id,
        samples=mix.astype(np.float32),
        turns=tuple(sorted(turns)),
        speakers=tuple(v.speaker for v in chosen),
        phone=phone,
        far_speaker=far,
        tags=tags,
    )


def simulated_conversations(
    voices: Sequence[Voice], count: int, *, seed: int = 0, options: SimulationOptions = SimulationOptions()
) -> list[Conversation]:
    """``count`` conversations; conversation ``i`` depends only on ``(seed, i)``, so seed ranges can be split
    into tuning and test sets."""
    out = []
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        n = min(int(rng.integers(options.min_speakers, options.max_speakers + 1)), len(voices))
        out.append(
            simulate_conversation(
                voices, rng, options, num_speakers=n, conversation_id=f"sim-{seed}-{i:03d}-{n}spk"
            )
        )
    return out
