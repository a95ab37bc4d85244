"""Pseudonymisation policies: which categories are replaced, how, and who stays named.

Two built-in policies:

- ``hearing`` (copie partagée d'une audition, for a prosecutor, a child-protection service, a court): persons,
  places, organisations, addresses, contact and bank details, plates and dates of birth are replaced by
  consistent pseudonyms; the procedure number, other dates and ages stay (the recipients need them).
- ``open-data`` (publication in the manner of the Cour de cassation): persons become letters ("M. [A] [B]"),
  every identifying category is replaced, including case numbers and ages.

In both, professionals named in their role (magistrates, clerks, lawyers, investigators) stay named; parties,
witnesses and minors never do. A policy is also read from a JSON file (see :func:`load_policy`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal

from verbatim.anonymize.spans import CATEGORIES
from verbatim.errors import InvalidOptionError

__all__ = ["OPERATORS", "POLICIES", "Policy", "get_policy", "load_policy", "policy_from_dict"]

OPERATORS: Final = ("pseudonym", "mask", "redact", "encrypt", "keep")
"""pseudonym: consistent alias; mask: characters replaced by X; redact: a category label; encrypt: AES-GCM
token reversible with the key; keep: left as it is."""


@dataclass(frozen=True)
class Policy:
    """What a pseudonymised copy replaces, and how.

    Attributes:
        name: short name (stored in the copy's ``pseudonymization`` header).
        description: what the policy is for.
        operators: category -> operator (one of :data:`OPERATORS`); a category not listed is kept.
        keep_professionals: names of people acting in a professional role stay.
        alias_style: ``names`` (invented first names and surnames) or ``letters`` ("[A]", "[B]": the Cour de
            cassation's style).
        min_score: spans found with less confidence are left alone.
    """

    name: str
    description: str
    operators: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    keep_professionals: bool = True
    alias_style: Literal["names", "letters"] = "names"
    min_score: float = 0.5

    def __post_init__(self) -> None:
        for category, operator in self.operators.items():
            if category not in CATEGORIES:
                raise InvalidOptionError(f"policy {self.name}: unknown category {category!r}")
            if operator not in OPERATORS:
                raise InvalidOptionError(
                    f"policy {self.name}: unknown operator {operator!r} (use one of {', '.join(OPERATORS)})"
                )
        if self.alias_style not in ("names", "letters"):
            raise InvalidOptionError(f"policy {self.name}: alias_style must be 'names' or 'letters'")

    def operator_for(self, category: str) -> str:
        """The operator that applies to a category ("keep" when the policy does not list it)."""
        return self.operators.get(category, "keep")

    def to_public(self) -> dict[str, object]:
        return {
            "name": self.name,
            "operators": dict(self.operators),
            "keep_professionals": self.keep_professionals,
            "alias_style": self.alias_style,
            "min_score": self.min_score,
        }


def _ops(**mapping: str) -> MappingProxyType[str, str]:
    return MappingProxyType(dict(mapping))


POLICIES: Final[MappingProxyType[str, Policy]] = MappingProxyType(
    {
        "hearing": Policy(
            name="hearing",
            description="Copie partagée d'une audition: personnes, lieux, coordonnées remplacés par des "
            "pseudonymes cohérents; professionnels, numéro de procédure, dates et âges conservés.",
            operators=_ops(
                PER="pseudonym",
                LOC="pseudonym",
                ORG="pseudonym",
                ADDRESS="pseudonym",
                PHONE="pseudonym",
                EMAIL="pseudonym",
                NIR="pseudonym",
                IBAN="pseudonym",
                COMPANY_ID="pseudonym",
                PLATE="pseudonym",
                BIRTHDATE="pseudonym",
            ),
        ),
        "open-data": Policy(
            name="open-data",
            description="Publication en open data (à la manière de la Cour de cassation): personnes "
            "remplacées par des lettres, toutes les données identifiantes remplacées; professionnels "
            "conservés.",
            operators=_ops(
                PER="pseudonym",
                LOC="pseudonym",
                ORG="pseudonym",
                ADDRESS="pseudonym",
                PHONE="redact",
                EMAIL="redact",
                NIR="redact",
                IBAN="redact",
                COMPANY_ID="redact",
                PLATE="redact",
                CASE_NUMBER="redact",
                BIRTHDATE="redact",
                AGE="redact",
            ),
            alias_style="letters",
        ),
    }
)
"""The built-in policies by name."""


def get_policy(name: str) -> Policy:
    """A built-in policy by name.

    Raises:
        InvalidOptionError: no such policy.
    """
    try:
        return POLICIES[name]
    except KeyError:
        raise InvalidOptionError(
            f"unknown pseudonymisation policy {name!r}: use {', '.join(POLICIES)} or a JSON policy file"
        ) from None


def load_policy(name_or_path: str) -> Policy:
    """A built-in policy by name, or one read from a JSON file.

    The file holds ``{"name": ..., "operators": {"PER": "pseudonym", ...}, "keep_professionals": true,
    "alias_style": "names", "min_score": 0.5, "base": "hearing"}``; with ``base``, the file's operators
    are added to (or override) the base policy's.

    Raises:
        InvalidOptionError: unknown name, unreadable file or invalid content.
    """
    if name_or_path in POLICIES:
        return POLICIES[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        get_policy(name_or_path)  # raises with the list of names
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidOptionError(f"cannot read the policy file {path.name}: {e}") from e
    return policy_from_dict(data, source=f"policy file {path.name}", default_name=path.stem)


def policy_from_dict(data: object, *, source: str = "policy", default_name: str = "custom") -> Policy:
    """A policy from its JSON document (the content of a policy file, see :func:`load_policy`).

    Args:
        data: the decoded JSON document.
        source: names the document in error messages.
        default_name: the policy's name when the document gives none.

    Raises:
        InvalidOptionError: invalid content.
    """
    if not isinstance(data, dict):
        raise InvalidOptionError(f"{source}: expected a JSON object")
    base = get_policy(str(data["base"])) if "base" in data else None
    operators = dict(base.operators) if base else {}
    raw_operators = data.get("operators", {})
    if not isinstance(raw_operators, dict):
        raise InvalidOptionError(f"{source}: 'operators' must be an object")
    operators.update({str(k): str(v) for k, v in raw_operators.items()})
    try:
        return Policy(
            name=str(data.get("name", default_name)),
            description=str(data.get("description", base.description if base else "")),
            operators=MappingProxyType(operators),
            keep_professionals=bool(
                data.get("keep_professionals", base.keep_professionals if base else True)
            ),
            alias_style=data.get("alias_style", base.alias_style if base else "names"),
            min_score=float(data.get("min_score", base.min_score if base else 0.5)),
        )
    except (TypeError, ValueError) as e:
        raise InvalidOptionError(f"{source}: {e}") from e
