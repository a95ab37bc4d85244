"""Rule recognizers: checksums, written and spoken forms, contexts."""

from __future__ import annotations

import pytest

from verbatim.anonymize.recognizers import AnalysisContext
from verbatim.anonymize.registry import create_recognizer
from verbatim.anonymize.rules import iban_is_valid, nir_is_valid, nir_key
from verbatim.anonymize.spans import Span


def found(recognizer: str, text: str) -> list[Span]:
    return create_recognizer(recognizer).analyze(AnalysisContext(text))


def texts(recognizer: str, text: str) -> list[str]:
    return [s.text for s in found(recognizer, text)]


# NIR: 1 85 03 75 116 238 + key; key = 97 - (n mod 97).
VALID_NIR = "1850375116238" + f"{97 - 1850375116238 % 97:02d}"


def test_nir_key_is_97_minus_the_number_modulo_97() -> None:
    assert nir_key("1850375116238") == 97 - 1850375116238 % 97
    assert nir_is_valid(VALID_NIR)
    wrong = VALID_NIR[:13] + f"{(int(VALID_NIR[13:]) % 97) + 1:02d}"
    assert not nir_is_valid(wrong)


def test_corsican_nir_counts_2a_as_19_and_2b_as_18() -> None:
    body_a = "285032A116238"
    assert nir_key(body_a) == 97 - int("2850319116238") % 97
    body_b = "285032B116238"
    assert nir_key(body_b) == 97 - int("2850318116238") % 97
    assert nir_is_valid(body_a + f"{nir_key(body_a):02d}")
    assert not nir_is_valid(body_a + f"{nir_key(body_b):02d}") or nir_key(body_a) == nir_key(body_b)


def test_nir_written_grouped_or_compact_is_found_and_a_wrong_key_is_not() -> None:
    grouped = "1 85 03 75 116 238 81"
    assert texts("nir", f"Assuré n° {grouped}.") == [grouped]
    assert texts("nir", f"NIR {VALID_NIR} ok") == [VALID_NIR]
    wrong = VALID_NIR[:13] + f"{(int(VALID_NIR[13:]) % 97) + 1:02d}"
    assert texts("nir", f"référence {wrong}") == []


def test_nir_spoken_in_groups_is_found_over_the_words() -> None:
    assert VALID_NIR == "185037511623881"
    spoken = (
        "un, quatre-vingt-cinq, zéro trois, soixante-quinze, cent seize, deux cent trente-huit, "
        "quatre-vingt-un"
    )
    spans = found("nir", f"mon numéro de sécu c'est {spoken}, voilà")
    assert [(s.category, s.text, s.key) for s in spans] == [("NIR", spoken, VALID_NIR)]


VALID_IBAN = "FR7630006000011234567890189"


def test_iban_checksum() -> None:
    assert iban_is_valid(VALID_IBAN)
    assert iban_is_valid("FR76 3000 6000 0112 3456 7890 189")
    assert not iban_is_valid("FR7630006000011234567890188")  # last digit changed
    assert not iban_is_valid("FR77" + VALID_IBAN[4:])  # check digits changed
    assert not iban_is_valid("FR76300060000112345678901")  # French IBANs have 27 characters


def test_iban_in_blocks_is_found_and_a_bad_checksum_is_not() -> None:
    assert texts("iban", "Virement sur FR76 3000 6000 0112 3456 7890 189 demain.") == [
        "FR76 3000 6000 0112 3456 7890 189"
    ]
    assert texts("iban", "IBAN FR76 3000 6000 0112 3456 7890 188.") == []


def test_iban_spoken_with_spelled_letters() -> None:
    spoken = (
        "F R soixante-seize, trois mille, six mille, zéro cent douze, trois mille quatre cent cinquante-six, "
        "sept mille huit cent quatre-vingt-dix, cent quatre-vingt-neuf"
    )
    spans = found("iban", f"mon RIB c'est {spoken}, voilà")
    assert [s.key for s in spans] == [VALID_IBAN]
    assert spans[0].text == spoken


@pytest.mark.parametrize(
    "number",
    [
        "06 12 34 56 78",
        "06.12.34.56.78",
        "0612345678",
        "06-12-34-56-78",
        "+33 6 12 34 56 78",
        "+33 (0)6 12 34 56 78",
        "0033 6 12 34 56 78",
    ],
)
def test_phone_written_forms(number: str) -> None:
    spans = found("phone", f"Appelez le {number} demain.")
    assert [s.text for s in spans] == [number]
    assert spans[0].key == "0612345678"


@pytest.mark.parametrize(
    "spoken",
    [
        "zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit",
        "zéro six douze trente-quatre cinquante-six soixante-dix-huit",
    ],
)
def test_phone_spoken_forms(spoken: str) -> None:
    spans = found("phone", f"mon portable c'est le {spoken} voilà")
    assert len(spans) == 1 and spans[0].text == spoken


def test_phone_spoken_forms_keys() -> None:
    spans = found("phone", "c'est le zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit")
    assert spans[0].key == "0612345678"


def test_a_mobile_said_without_its_zero_needs_its_context() -> None:
    assert texts("phone", "mon numéro c'est six douze trente-quatre cinquante-six soixante-dix-huit") != []
    assert texts("phone", "il y avait 612345678 grains de sable") == []


def test_ten_digits_inside_a_longer_number_are_not_a_phone() -> None:
    assert texts("phone", "le compte 1234 0612345678 99") == []


def test_email_written_and_spoken_give_the_same_address() -> None:
    written = found("email", "écrivez à julie.martin@exemple.fr merci")
    spoken = found("email", "mon mail c'est julie point martin arobase exemple point fr voilà")
    assert [s.text for s in written] == ["julie.martin@exemple.fr"]
    assert [s.text for s in spoken] == ["julie point martin arobase exemple point fr"]
    assert written[0].key == spoken[0].key == "julie.martin@exemple.fr"


def test_plates_new_form_and_old_form_in_context() -> None:
    assert texts("plate", "la voiture AB-123-CD est partie") == ["AB-123-CD"]
    assert texts("plate", "véhicule immatriculé 1234 AB 75") == ["1234 AB 75"]
    assert texts("plate", "il y avait 12 AB 34 personnes") == []


def test_case_numbers_but_not_laws() -> None:
    text = "PV n° 2024/01234, RG 23/04567, requête no 20022/92, selon la loi n° 84-16 et le décret n° 85-986"
    assert set(texts("case_number", text)) == {"2024/01234", "23/04567", "20022/92"}


def test_dates_of_birth_and_ages_in_context() -> None:
    spans = found("date", "Elle est née le 12 mars 2012 et l'audience a eu lieu le 28 mai 2024.")
    assert [(s.text, s.category) for s in spans] == [("12 mars 2012", "BIRTHDATE"), ("28 mai 2024", "DATE")]
    spoken = found("date", "il est né le douze mars deux mille douze")
    assert [(s.text, s.category) for s in spoken] == [("douze mars deux mille douze", "BIRTHDATE")]
    assert texts("age", "j'ai neuf ans, ma sœur âgée de 14 ans, il y a 3 ans") == ["neuf ans", "14 ans"]


def test_addresses() -> None:
    assert (
        texts("address", "elle habite au 12 rue des Lilas, 69003 Lyon.")[0] == "12 rue des Lilas, 69003 Lyon"
    )
    assert texts("address", "il vit douze bis avenue de la République")[:1] == [
        "douze bis avenue de la République"
    ]
    assert texts("address", "au cours de la route il a dit") == []
