"""SIREN and SIRET numbers: found when their Luhn check digit is right and a business is named near them."""

from __future__ import annotations

from verbatim.anonymize.recognizers import AnalysisContext
from verbatim.anonymize.rules import CompanyIdRecognizer, company_id_is_valid


def _found(text: str) -> list[str]:
    return [s.text for s in CompanyIdRecognizer().analyze(AnalysisContext(text))]


def test_checksum() -> None:
    assert company_id_is_valid("732 829 320") and company_id_is_valid("732 829 320 00074")
    assert not company_id_is_valid("732 829 321") and not company_id_is_valid("732 829 320 00075")


def test_found_in_context_or_grouped_as_a_siret() -> None:
    assert _found("la société immatriculée au RCS sous le numéro 732 829 320.") == ["732 829 320"]
    assert _found("Mon employeur, SIRET 73282932000074, m'a licencié.") == ["73282932000074"]
    assert _found("Le numéro 732 829 320 00074 figure sur la fiche de paie.") == ["732 829 320 00074"]


def test_not_taken_without_a_business_or_with_a_wrong_check_digit() -> None:
    assert _found("Il a compté 732 829 320 grains de sable.") == []  # valid by chance, nothing says business
    assert _found("L'entreprise SIREN 732 829 321 n'existe pas.") == []
    assert _found("Appelez le 06 12 34 56 78.") == []
