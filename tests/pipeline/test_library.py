"""``verbatim.pipeline`` lists what a library user needs, each name resolving to its stage's own object."""

from __future__ import annotations

import subprocess
import sys

import pytest

import verbatim.pipeline as pipeline
from verbatim.pipeline.runner import TranscriptionPipeline


def test_every_listed_name_resolves() -> None:
    for name in pipeline.__all__:
        assert getattr(pipeline, name) is not None
    assert pipeline.TranscriptionPipeline is TranscriptionPipeline
    with pytest.raises(AttributeError):
        _ = pipeline.nothing_here  # type: ignore[attr-defined]


def test_importing_one_stage_does_not_import_the_others() -> None:
    code = "import sys, verbatim.pipeline.types; print('verbatim.pipeline.runner' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
