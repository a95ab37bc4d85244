from __future__ import annotations

import pytest

from verbatim.errors import InvalidOptionError
from verbatim.pipeline.request import TranscriptionRequest, parse_request


def test_defaults_and_round_trip_through_json() -> None:
    request = parse_request({})
    assert request.language == "auto" and request.diarize and request.channels == "mix"
    assert TranscriptionRequest.model_validate_json(request.model_dump_json()) == request


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"language": "xx"}, "Unknown language 'xx'"),
        ({"task": "summarize"}, "task"),
        ({"num_speakers": 0}, "num_speakers"),
        ({"min_speakers": 4, "max_speakers": 2}, "min_speakers must not exceed max_speakers"),
        ({"channels": "left"}, "channels"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_options_name_the_faulty_option(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidOptionError, match=message):
        parse_request(data)
