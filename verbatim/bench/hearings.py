"""A generated corpus of hearing transcripts, to measure what a pseudonymised copy still leaks.

Seeded and built from Faker's French first names and surnames (MIT): police and court hearings laid out as
our exports lay them out ("Enquêteur : ..."), with titles, minors and relatives named in every way a
transcript names them (full name, first name alone, "Mme X", spelled with hyphens, dots or spaces, in
lower case, with an invisible character inside, dictated phone numbers), professionals named in their role,
and transcripts with speaker names and English translations (where surnames may be misspelt).

Scores (:func:`score_hearings`): names left (a private name whose characters are not all inside a
replacement), labels touched (a speaker label or role word replaced), professionals hidden (for information:
the policy keeps them), and characters lost (the copy is not the original with its replacements swapped in).
"""

from __future__ import annotations

import importlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from verbatim.anonymize.normalize import fold, french_number

__all__ = ["HearingText", "HearingTranscript", "generate_hearings", "score_hearings"]

Interval = tuple[int, int]

POLICE_LABELS: Final = (
    "Enquêteur", "Enquêtrice", "L'enquêteur", "L'enquêtrice", "Brigadier", "Question", "Q", "OPJ",
    "Le capitaine", "Gendarme",
)  # fmt: skip
COURT_LABELS: Final = (
    "Greffière", "Greffier", "Le président", "La présidente", "Juge", "Le juge des enfants", "Procureur",
    "L'avocat de la défense", "Interprète",
)  # fmt: skip
ANSWER_LABELS: Final = ("Réponse", "R", "Témoin", "Mineur", "Mineure", "L'enfant", "Victime", "Le témoin")
SPEAKER_IDS: Final = ("S1", "S2", "S3", "SPEAKER_00", "SPEAKER_01", "Locuteur 2", "Intervenant 1")
TITLES: Final = ("Mme", "M.", "Madame", "Monsieur")
# First names given in France that are also ordinary words: an ASR transcript writes them in lower case.
WORD_FIRST_NAMES: Final = (
    "Claire", "Marine", "Rose", "Pierre", "Marc", "Olivier", "Florence", "Violette", "Aurore", "Clément",
    "Constance", "Victoire", "Jade", "Iris", "Ambre", "Capucine", "Romain", "Germain", "Pascal", "Benoît",
    "Adrienne", "Madeleine", "Martin", "Laure", "Colin", "Robin", "Max", "Blanche", "Prudence", "Océane",
)  # fmt: skip
# The same words used as words, in lines of a hearing: they must stay.
ORDINARY_USES: Final = (
    "La pierre était claire et lisse.", "Il portait un blouson bleu marine.",
    "Elle avait une rose à la main.",
    "C'est clair, la situation est claire.", "Le mur en pierre, il est tombé.", "Il est dans la marine.",
    "Les volets étaient violette, enfin violets.", "À l'aurore on est partis.", "Une voix claire, calme.",
    "J'ai vu une pierre, elle était rouge.", "La marine, il voulait y entrer.", "Il a offert une rose.",
    "Elle avait les yeux bleu marine.", "Il fait preuve de constance.", "Le martin-pêcheur est parti.",
)  # fmt: skip
INVISIBLE: Final = ("\u200b", "\u200c", "\u2060", "\u00ad", "\u200e")


@dataclass
class HearingText:
    """A hearing as text lines, with what must go and what must stay (offsets into ``text``)."""

    text: str
    names: list[Interval] = field(default_factory=list)
    labels: list[Interval] = field(default_factory=list)
    professionals: list[Interval] = field(default_factory=list)
    forms: list[str] = field(default_factory=list)  # the form of each name (for the report)
    words: list[Interval] = field(default_factory=list)  # ordinary words that look like names: must stay


@dataclass
class HearingTranscript:
    """A hearing as a transcript: segments with translations and speaker names.

    ``segments``: (speaker id, French text, English text, names in French, names in English).
    """

    speakers: dict[str, str]
    segments: list[tuple[str, str, str, list[Interval], list[Interval]]]
    private_speakers: set[str]


def _faker_names() -> tuple[list[str], list[str]]:
    provider = importlib.import_module("faker.providers.person.fr_FR").Provider
    first = sorted(set(provider.first_names_female) | set(provider.first_names_male))
    last = sorted(provider.last_names)
    return first, last


class _Line:
    """Builds one line and records the intervals of its parts."""

    def __init__(self, hearing: HearingText) -> None:
        self.hearing = hearing
        self.parts: list[str] = []
        self.base = len(hearing.text)

    def _at(self) -> int:
        return self.base + sum(len(p) for p in self.parts)

    def add(self, text: str, kind: str | None = None, form: str = "") -> None:
        start = self._at()
        self.parts.append(text)
        interval = (start, start + len(text))
        if kind == "name":
            self.hearing.names.append(interval)
            self.hearing.forms.append(form)
        elif kind == "label":
            self.hearing.labels.append(interval)
        elif kind == "professional":
            self.hearing.professionals.append(interval)
        elif kind == "word":
            self.hearing.words.append(interval)

    def end(self) -> None:
        self.hearing.text += "".join(self.parts) + "\n"


def _spelled(word: str, rng: random.Random) -> str:
    letters = [c for c in word.upper() if c.isalpha()]
    return rng.choice(("-", ".", " ", ", ")).join(letters)


def _with_invisible(word: str, rng: random.Random) -> str:
    at = rng.randrange(1, len(word))
    return word[:at] + rng.choice(INVISIBLE) + word[at:]


def _dictated_phone(rng: random.Random) -> str:
    pairs = [f"0{rng.choice('67')}"] + [f"{rng.randrange(100):02d}" for _ in range(4)]
    words = ["zéro " + french_number(int(pairs[0][1]))]
    for p in pairs[1:]:
        words.append(("zéro " + french_number(int(p[1]))) if p[0] == "0" else french_number(int(p)))
    return ", ".join(words)


def _hearing_text(rng: random.Random, first: list[str], last: list[str], lines: int) -> HearingText:
    hearing = HearingText("")
    minor_first, minor_last = rng.choice(first), rng.choice(last)
    relative_first, relative_last = rng.choice(first), rng.choice(last)
    pro_last = rng.choice([n for n in last if n not in (minor_last, relative_last)])
    word_first = rng.choice(WORD_FIRST_NAMES)
    court = rng.random() < 0.5
    asking = COURT_LABELS if court else POLICE_LABELS
    for _ in range(lines):
        line = _Line(hearing)
        label = rng.choice(asking + SPEAKER_IDS)
        answer = rng.choice(ANSWER_LABELS + SPEAKER_IDS)
        form = rng.randrange(19)
        # As an ASR transcript writes it (lower case) or as a clerk would (capitalised).
        word_name = word_first.lower() if rng.random() < 0.7 else word_first
        if form in (0, 1, 2, 3, 4, 9, 16):
            line.add(label, "label")
        else:
            line.add(answer, "label")
        line.add(" : ")
        if form == 0:
            line.add(rng.choice(TITLES) + " ")
            line.add(relative_last, "name", "title")
            line.add(", connaissez-vous ")
            line.add(minor_first, "name", "first")
            line.add(" ?")
        elif form == 1:
            line.add(minor_first, "name", "first after label")
            line.add(", est-ce que tu peux me dire ce qui s'est passé ?")
        elif form == 2:
            line.add("Maître ")
            line.add(pro_last, "professional")
            line.add(", avocat de la famille ")
            line.add(minor_last, "name", "family")
            line.add(", est présent.")
        elif form == 3:
            line.add("Tu peux épeler ton nom ? ")
            line.add(minor_last, "name", "surname")
            line.add(" ?")
        elif form == 4:
            line.add("Et ")
            line.add(relative_first, "name", "first")
            line.add(", il habite où ?")
        elif form == 5:
            line.add("Ça s'écrit ")
            line.add(_spelled(minor_last, rng), "name", "spelled")
            line.add(".")
        elif form == 6:
            line.add("Je m'appelle ")
            line.add(_spelled(minor_first, rng), "name", "spelled first")
            line.add(".")
        elif form == 7:
            line.add("Oui. ")
            line.add(minor_first, "name", "first at sentence start")
            line.add(" est venue avec mon beau-père ")
            line.add(f"{relative_first} {relative_last}", "name", "full")
            line.add(".")
        elif form == 8:
            line.add("c'est ")
            line.add(fold(relative_first) if rng.random() < 0.5 else relative_first.lower(), "name", "lower")
            line.add(" qui me l'a dit euh hier")
        elif form == 9:
            line.add("Vous êtes bien ")
            line.add(_with_invisible(f"{minor_first} {minor_last}", rng), "name", "invisible")
            line.add(" ?")
        elif form == 10:
            line.add("Mon numéro c'est le ")
            line.add(_dictated_phone(rng), "name", "dictated phone")
            line.add(".")
        elif form == 11:
            line.add("J'habite chez ma mère, ")
            line.add(rng.choice(TITLES) + " ")
            line.add(minor_last, "name", "title")
            line.add(".")
        elif form == 12:
            line.add("Je suis ")
            line.add(f"{minor_first.upper()} {minor_last.upper()}", "name", "capitals")
            line.add(".")
        elif form == 13:
            line.add(rng.choice(("Et ta sœur ", "Et ton frère ", "Ta copine ", "Ta cousine ")))
            line.add(word_name, "name", "word name after a relative")
            line.add(rng.choice((", elle était là ?", ", il était où ?", " elle dit autre chose.")))
        elif form == 14:
            line.add(rng.choice(("", "Euh ", "Et après ")))
            line.add(word_name, "name", "word name subject")
            line.add(
                rng.choice(
                    (
                        " m'a dit de rien dire.",
                        " il m'a frappée.",
                        " elle m'a pris le téléphone.",
                        " a dit que c'était un jeu.",
                    )
                )
            )
        elif form == 15:
            line.add(rng.choice(("Après l'école je suis allée chez ", "On dormait chez ")))
            line.add(word_name, "name", "word name after chez")
            line.add(rng.choice((".", " le week-end.", " avec ma mère.")))
        elif form == 16:
            line.add(word_name, "name", "word name addressed")
            line.add(
                rng.choice(
                    (", est-ce que tu peux me dire ce qu'il t'a fait ?", ", tu étais où ce soir-là ?",
                     ", vous confirmez ?")
                )
            )  # fmt: skip
        elif form == 17:
            line.add("Non, c'est ")
            line.add(word_name, "name", "word name in c'est X qui")
            line.add(" qui m'a emmenée. Et ")
            line.add(word_name, "name", "word name subject")
            line.add(" elle a rien dit.")
        else:
            line.add(rng.choice(("Oui. ", "Euh ", "")))
            line.add(rng.choice(ORDINARY_USES), "word")
        line.end()
    return hearing


def _misspelt(name: str) -> str:
    # One letter dropped at the end: "Dupont" -> "Dupon" (the English side of a translated hearing).
    return name[:-1] if len(name) >= 6 else name


def _hearing_transcript(rng: random.Random, first: list[str], last: list[str]) -> HearingTranscript:
    minor_first, minor_last = rng.choice(first), rng.choice(last)
    parent = f"{rng.choice(first)} {rng.choice(last)}"
    login = fold(rng.choice(first))[0] + fold(minor_last).replace(" ", "") + str(rng.randrange(10, 99))
    speakers = {"S1": rng.choice(("Enquêteur", "Enquêtrice", "SPEAKER_00")), "S2": parent, "S3": login}
    segments: list[tuple[str, str, str, list[Interval], list[Interval]]] = []

    def seg(speaker: str, fr: list[tuple[str, bool]], en: list[tuple[str, bool]]) -> None:
        def build(parts: list[tuple[str, bool]]) -> tuple[str, list[Interval]]:
            text, names = "", []
            for piece, is_name in parts:
                if is_name:
                    names.append((len(text), len(text) + len(piece)))
                text += piece
            return text, names

        fr_text, fr_names = build(fr)
        en_text, en_names = build(en)
        segments.append((speaker, fr_text, en_text, fr_names, en_names))

    seg(
        "S1",
        [("Bonjour, vous êtes ", False), (f"{minor_first} {minor_last}", True), (" ?", False)],
        [("Hello, are you ", False), (f"{minor_first} {_misspelt(minor_last)}", True), ("?", False)],
    )
    seg(
        "S2",
        [("Oui, ", False), (minor_first, True), (" est ma fille.", False)],
        [("Yes, ", False), (minor_first, True), (" is my daughter.", False)],
    )
    seg(
        "S1",
        [("Et vous, madame ", False), (parent.split()[-1], True), (", vous habitez où ?", False)],
        [("And you, Mrs ", False), (_misspelt(parent.split()[-1]), True), (", where do you live?", False)],
    )
    seg(
        "S3",
        [("c'est moi ", False), (login, True), (", le frère.", False)],
        [("it's me ", False), (login, True), (", the brother.", False)],
    )
    return HearingTranscript(speakers, segments, {"S2", "S3"})


def generate_hearings(
    seed: int = 0, *, texts: int = 20, lines: int = 12, transcripts: int = 10
) -> tuple[list[HearingText], list[HearingTranscript]]:
    """Hearings as texts and as transcripts, the same for the same seed."""
    rng = random.Random(seed)
    first, last = _faker_names()
    return (
        [_hearing_text(rng, first, last, lines) for _ in range(texts)],
        [_hearing_transcript(rng, first, last) for _ in range(transcripts)],
    )


def _covered(text: str, interval: Interval, replaced: Sequence[Interval]) -> bool:
    """Whether every letter or digit of ``text[interval]`` lies inside a replaced span."""
    start, end = interval
    return all(any(s <= i < e for s, e in replaced) for i in range(start, end) if text[i].isalnum())


def _rebuilt(text: str, replacements: Sequence[tuple[int, int, str]]) -> str:
    out, cursor = [], 0
    for start, end, new in sorted(replacements):
        out.append(text[cursor:start])
        out.append(new)
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


_PARTICLES: Final = frozenset({"le", "la", "de", "du", "des", "van", "von", "di", "da", "del", "ben"})


def score_hearings(
    hearings: Sequence[HearingText], transcripts: Sequence[HearingTranscript], *, policy: str = "hearing"
) -> dict[str, Any]:
    """Pseudonymise every hearing and count what leaks, what is wrongly touched and what is lost.

    Returns:
        ``names`` / ``names_left`` (with the forms left), ``labels`` / ``labels_touched``,
        ``professionals`` / ``professionals_hidden``, ``lost`` (texts whose copy is not the original with its
        replacements swapped in), and the same for transcripts (segments, translations, speaker names).
    """
    from verbatim.anonymize import get_policy, pseudonymize_text, pseudonymize_transcript
    from verbatim.pipeline.types import Segment, SegmentTranslation, Transcript

    chosen = get_policy(policy)
    names = left = labels = touched = pros = pros_hidden = lost = words = words_touched = 0
    left_forms: list[str] = []
    left_examples: list[str] = []
    for hearing in hearings:
        result, _ = pseudonymize_text(hearing.text, chosen)
        replaced = [(r.start, r.end) for r in result.replacements]
        for interval, form in zip(hearing.names, hearing.forms, strict=True):
            names += 1
            if not _covered(hearing.text, interval, replaced):
                left += 1
                left_forms.append(form)
                left_examples.append(hearing.text[interval[0] : interval[1]])
        for start, end in hearing.labels:
            labels += 1
            if any(s < end and start < e for s, e in replaced):
                touched += 1
                left_examples.append(f"label: {hearing.text[start:end]}")
        for start, end in hearing.words:
            words += 1
            if any(s < end and start < e for s, e in replaced):
                words_touched += 1
                left_examples.append(f"word: {hearing.text[start:end]}")
        for start, end in hearing.professionals:
            pros += 1
            pros_hidden += any(s < end and start < e for s, e in replaced)
        rebuilt = _rebuilt(hearing.text, [(r.start, r.end, r.replacement) for r in result.replacements])
        lost += rebuilt != result.text
    t_names = t_left = speaker_left = speaker_touched = 0
    for hearing_t in transcripts:
        segments = tuple(
            Segment(
                i, float(i), float(i) + 0.9, fr, (), speaker, "fr",
                translation=SegmentTranslation("en", en, "test"),
            )
            for i, (speaker, fr, en, _, _) in enumerate(hearing_t.segments)
        )  # fmt: skip
        transcript = Transcript(
            language="fr", duration=float(len(segments)), segments=segments, audio_sha256="0" * 64,
            filename="", speakers=dict(hearing_t.speakers),
        )  # fmt: skip
        copy, mapping = pseudonymize_transcript(transcript, chosen)
        for i, (_, _, _, fr_names, en_names) in enumerate(hearing_t.segments):
            for where, intervals in (("segment", fr_names), ("translation", en_names)):
                replaced = [
                    (int(r["start"]), int(r["end"]))
                    for r in mapping.replacements
                    if r["where"] == where and r["index"] == i
                ]
                text = hearing_t.segments[i][1] if where == "segment" else hearing_t.segments[i][2]
                for interval in intervals:
                    t_names += 1
                    if not _covered(text, interval, replaced):
                        t_left += 1
                        left_examples.append(f"{where}: {text[interval[0] : interval[1]]}")
                        left_forms.append(f"transcript {where}")
        for sid, name in hearing_t.speakers.items():
            if sid in hearing_t.private_speakers:
                # whole words, particles aside ("Le" of "Le Gall" is no leak inside the alias "Lefort")
                kept = set(re.findall(r"\w+", fold(copy.speakers[sid])))
                speaker_left += any(fold(w) in kept for w in name.split() if fold(w) not in _PARTICLES)
            else:
                speaker_touched += copy.speakers[sid] != name
    return {
        "texts": len(hearings),
        "names": names,
        "names_left": left,
        "labels": labels,
        "labels_touched": touched,
        "ordinary_lines": words,
        "ordinary_lines_touched": words_touched,
        "professionals": pros,
        "professionals_hidden": pros_hidden,
        "lost": lost,
        "transcripts": len(transcripts),
        "transcript_names": t_names,
        "transcript_names_left": t_left,
        "speaker_names_left": speaker_left,
        "speaker_labels_touched": speaker_touched,
        "left_forms": sorted(set(left_forms)),
        "left_examples": left_examples[:20],
    }
