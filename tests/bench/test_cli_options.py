"""Options of ``verbatim bench`` parsed before any model loads."""

from __future__ import annotations

import pytest

from verbatim.bench.cli import _speaker_range
from verbatim.bench.common import BenchError


@pytest.mark.parametrize(("text", "bounds"), [("1-2", (1, 2)), ("3", (3, 3)), (" 1-7 ", (1, 7))])
def test_speaker_range(text: str, bounds: tuple[int, int]) -> None:
    assert _speaker_range(text) == bounds


@pytest.mark.parametrize("text", ["0-2", "2-1", "1-8", "a-b", "", "1-"])
def test_speaker_range_refused(text: str) -> None:
    with pytest.raises(BenchError, match="--speakers"):
        _speaker_range(text)
