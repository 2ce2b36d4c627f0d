"""``validate_arguments``: what a model is told about bad arguments, and the validator cache behind it."""

from __future__ import annotations

import copy
import threading
from typing import Any

from patchbay import _invoke
from patchbay._invoke import validate_arguments

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "n": {"type": "integer", "minimum": 0}},
    "required": ["text"],
    "additionalProperties": False,
}


def test_problems_are_named_by_path() -> None:
    assert validate_arguments(SCHEMA, {"text": "hi", "n": 2}) is None
    problems = validate_arguments(SCHEMA, {"n": -1, "extra": True})
    assert problems is not None
    lines = problems.splitlines()
    assert "- 'text' is a required property" in lines
    assert "- n: -1 is less than the minimum of 0" in lines
    assert any("'extra' was unexpected" in line for line in lines)


def test_a_broken_schema_leaves_the_judgement_to_the_server() -> None:
    assert validate_arguments({"type": "no-such-type"}, {"anything": 1}) is None


def test_one_compiled_validator_per_schema_object() -> None:
    schema = copy.deepcopy(SCHEMA)
    first = _invoke._validator(schema)
    assert _invoke._validator(schema) is first  # no recompiling, no re-serialising per call
    twin = copy.deepcopy(SCHEMA)
    assert _invoke._validator(twin) is not first  # equal content, another object: its own entry


def test_distinct_schemas_never_share_a_validator_even_when_ids_could_repeat() -> None:
    """The cache holds each schema, so a dropped schema's id is not reused while its entry lives."""
    for round_ in range(50):
        minimum = round_ % 7
        schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": minimum}}}
        assert validate_arguments(schema, {"n": minimum}) is None
        assert validate_arguments(schema, {"n": minimum - 1}) is not None
        del schema  # freed at once (reference counting): the next dict often gets its id


def test_the_cache_is_bounded_and_safe_across_threads() -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for index in range(_invoke._MAX_VALIDATORS // 4 + 25):
                schema = {"type": "object", "properties": {f"p{index}": {"type": "string"}}}
                assert validate_arguments(schema, {f"p{index}": 1}) is not None
                assert validate_arguments(SCHEMA, {"text": "x"}) is None
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(_invoke._VALIDATORS) <= _invoke._MAX_VALIDATORS
