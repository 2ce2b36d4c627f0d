"""Exposed-name rules: always valid, unique, stable, and mapped (never reversed)."""

from __future__ import annotations

import re
import subprocess
import sys
from types import SimpleNamespace

from patchbay.catalogue import Catalogue, ServerListing, assign_names, exposed_name, filter_tools

VALID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _tool(name: str) -> SimpleNamespace:
    return SimpleNamespace(
        name=name,
        title=None,
        description=f"{name} tool",
        input_schema={"type": "object"},
        output_schema=None,
        annotations=None,
    )


def test_plain_names() -> None:
    assert exposed_name("time", "get_current_time") == "mcp__time__get_current_time"
    assert exposed_name("my.server", "a b") == "mcp__my_server__a_b"


def test_long_names_are_cut_with_a_stable_hash() -> None:
    name = exposed_name("a-rather-long-server-name", "x" * 60)
    assert VALID.match(name)
    assert len(name) == 64
    assert name == exposed_name("a-rather-long-server-name", "x" * 60)
    assert name != exposed_name("a-rather-long-server-name", "x" * 59 + "y")


def test_collisions_get_suffixes_and_the_clean_name_wins() -> None:
    pairs = [("s", "a.b"), ("s", "a_b"), ("s", "a b")]
    names = assign_names(pairs)
    assert len(set(names)) == 3
    assert names[1] == "mcp__s__a_b"
    assert all(VALID.match(n) for n in names)
    # Order of discovery does not change who keeps the clean name.
    assert assign_names(list(reversed(pairs)))[1] == "mcp__s__a_b"


def test_server_names_that_sanitise_alike_do_not_collide() -> None:
    names = assign_names([("my.server", "t"), ("my_server", "t")])
    assert len(set(names)) == 2
    assert "mcp__my_server__t" in names


def test_catalogue_maps_names_to_originals() -> None:
    listing = ServerListing(tools=[_tool("get.current.time"), _tool("get_current_time")])
    catalogue = Catalogue([("clock", listing)])
    plain = catalogue.tools["mcp__clock__get_current_time"]
    assert plain.original_name == "get_current_time"
    dotted = next(t for t in catalogue.tools.values() if t.original_name == "get.current.time")
    assert dotted.name != plain.name
    assert catalogue.find_tool(dotted.name) is dotted
    assert catalogue.find_tool("get.current.time") is dotted  # unique original name
    assert catalogue.find_tool("get_current_time", server="other") is None


def test_filters_are_globs_on_original_names() -> None:
    tools = [_tool("read_file"), _tool("write_file"), _tool("delete_file"), _tool("stat")]
    kept = filter_tools(tools, ["*_file"], ["delete_*"])
    assert [t.name for t in kept] == ["read_file", "write_file"]
    assert [t.name for t in filter_tools(tools, None, ())] == [
        "read_file",
        "write_file",
        "delete_file",
        "stat",
    ]


def test_template_matching() -> None:
    listing = ServerListing(
        templates=[
            SimpleNamespace(
                uri_template="notes://note/{title}", name="note", title=None, description=None, mime_type=None
            )
        ]
    )
    catalogue = Catalogue([("notes", listing)])
    assert catalogue.servers_for_uri("notes://note/welcome") == ["notes"]
    assert catalogue.servers_for_uri("notes://note/a/b") == []
    assert catalogue.servers_for_uri("other://x") == []


def test_every_public_name_resolves_lazily() -> None:
    """`import patchbay` imports nothing heavy; each name in __all__ still resolves on first use."""
    code = (
        "import sys, patchbay\n"
        "assert 'pydantic' not in sys.modules and 'mcp' not in sys.modules\n"
        "missing = [n for n in patchbay.__all__ if getattr(patchbay, n, None) is None]\n"
        "assert not missing, missing\n"
        "assert 'mcp' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
