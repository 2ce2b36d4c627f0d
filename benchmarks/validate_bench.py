"""What the validator cache key costs per ``validate_arguments`` call: content (JSON) vs identity.

    .venv/bin/python benchmarks/validate_bench.py [--number 2000] [--repeat 15]

Before, the cache key was ``json.dumps(schema, sort_keys=True)``, built on every call; now it is
the schema's ``id()`` (the cache entry holds the schema, so the id cannot be reused). Both are
measured in this run on the same schemas and arguments: ``content`` re-creates the old function
from its parts, ``identity`` is ``patchbay._invoke.validate_arguments`` as shipped. The report
gives the median microseconds per call over ``--repeat`` rounds (each of ``--number`` calls,
alternating the two) and the ratio; the validation itself (jsonschema) is the same in both.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import timeit
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from patchbay import _invoke  # noqa: E402


@lru_cache(maxsize=512)
def _content_validator(schema_json: str) -> Any:
    from jsonschema import validators

    schema = json.loads(schema_json)
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def content_keyed(schema: dict[str, Any], arguments: Any) -> str | None:
    """The old lookup: serialise the schema for the key, then validate."""
    validator = _content_validator(json.dumps(schema, sort_keys=True, default=str))
    problems = sorted(validator.iter_errors(arguments), key=lambda e: list(map(str, e.absolute_path)))
    return "x" if problems else None


def small_schema() -> dict[str, Any]:
    return dict(_invoke.SEARCH_SPEC.input_schema)


def large_schema() -> dict[str, Any]:
    """About the size of a GitHub-server tool: 25 described properties, some nested."""
    properties: dict[str, Any] = {}
    for index in range(25):
        properties[f"field_{index}"] = {
            "type": "string" if index % 3 else "object",
            "description": f"What field {index} means, in one sentence a model can act on.",
            **(
                {"properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {}}}}
                if index % 3 == 0
                else {}
            ),
        }
    return {
        "type": "object",
        "properties": properties,
        "required": ["field_1"],
        "additionalProperties": False,
    }


def _seconds(function: Callable[[Any, Any], object], schema: Any, arguments: Any, number: int) -> float:
    return timeit.timeit(lambda: function(schema, arguments), number=number)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=15)
    options = parser.parse_args()
    cases = {
        "small (search meta-tool)": (small_schema(), {"query": "create an issue", "limit": 3}),
        "large (25 properties)": (large_schema(), {"field_1": "x", "field_2": "y"}),
    }
    print(f"validate_arguments, valid arguments, {options.number} calls x {options.repeat} rounds")
    print(f"{'schema':<26} {'content key us':>15} {'identity key us':>16} {'ratio':>7}")
    for label, (schema, arguments) in cases.items():
        assert content_keyed(schema, arguments) is None
        assert _invoke.validate_arguments(schema, arguments) is None
        old: list[float] = []
        new: list[float] = []
        for _ in range(options.repeat):
            old.append(_seconds(content_keyed, schema, arguments, options.number))
            new.append(_seconds(_invoke.validate_arguments, schema, arguments, options.number))
        old_us = statistics.median(old) / options.number * 1e6
        new_us = statistics.median(new) / options.number * 1e6
        print(f"{label:<26} {old_us:>15.1f} {new_us:>16.1f} {old_us / new_us:>6.2f}x")


if __name__ == "__main__":
    main()
