"""Tool search: the tokenizer, BM25 ranking, and ``MCPManager.search_tools`` on real servers."""

from __future__ import annotations

import pytest

from patchbay import MCPManager, ServerNotFound, Tool
from patchbay.search import ToolIndex, index_for, tokenize

from .conftest import fleet, stdio

pytestmark = pytest.mark.anyio


def _tool(server: str, name: str, description: str = "", **properties: str) -> Tool:
    schema = {
        "type": "object",
        "properties": {k: {"type": "string", "description": v} for k, v in properties.items()},
    }
    return Tool(
        name=f"mcp__{server}__{name}",
        server=server,
        original_name=name,
        description=description,
        input_schema=schema,
    )


CATALOGUE = [
    _tool(
        "github", "create_issue", "Open a new issue in a repository.", repo="owner/name", title="Issue title"
    ),
    _tool("github", "list_pull_requests", "List the pull requests of a repository.", repo="owner/name"),
    _tool("slack", "postMessage", "Send a message to a channel.", channel="Channel id", text="Message text"),
    _tool("weather", "forecast", "Weather forecast for the next days.", city="City name"),
    _tool("files", "read_file", "Read a file from disk.", path="Absolute path"),
    _tool("files", "write_file", "Write text to a file, replacing it.", path="Absolute path", content="Text"),
]


def test_tokenize_splits_snake_kebab_and_camel_case_and_stems() -> None:
    assert tokenize("get_current_time") == tokenize("current time")  # "get" is a stop word
    assert tokenize("listPullRequests") == tokenize("list pull request")
    assert tokenize("HTMLParser kebab-case v2") == tokenize("html parser kebab case v 2")
    assert len(tokenize("HTMLParser kebab-case v2")) == 6
    assert tokenize("Lists the issues of my repositories") == tokenize("list issue repository")
    # Inflections meet: what a user types finds how a description puts it.
    assert len({*tokenize("stage stages staged staging")}) == 1
    assert len({*tokenize("modify modifies modified")}) == 1
    assert tokenize("") == []
    assert tokenize("the of to a") == []


def test_bm25_ranks_the_obvious_tool_first() -> None:
    index = ToolIndex(CATALOGUE)
    assert len(index) == len(CATALOGUE)

    def top(query: str) -> str:
        return index.search(query, 1)[0][0].original_name

    assert top("open an issue on github") == "create_issue"
    assert top("send a slack message to a channel") == "postMessage"
    assert top("what's the weather in Paris tomorrow") == "forecast"
    assert top("save text into a file") == "write_file"
    assert top("pull requests") == "list_pull_requests"


def test_search_scores_limits_filters_and_misses() -> None:
    index = ToolIndex(CATALOGUE)
    hits = index.search("file path", 10)
    assert [t.original_name for t, _ in hits][:2] == ["read_file", "write_file"] or [
        t.original_name for t, _ in hits
    ][:2] == ["write_file", "read_file"]
    scores = [score for _, score in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(score > 0 for score in scores)
    assert len(index.search("file", 1)) == 1
    assert index.search("file", 0) == []
    assert index.search("zebra quantum", 5) == []  # nothing in common: nothing returned
    assert index.search("", 5) == []
    only_github = index.search("repository", 10, servers=["github"])
    assert {t.server for t, _ in only_github} == {"github"}
    assert ToolIndex([]).search("anything", 5) == []


def test_argument_names_and_descriptions_are_searchable() -> None:
    index = ToolIndex(CATALOGUE)
    assert index.search("city", 1)[0][0].original_name == "forecast"  # only an argument name says "city"
    assert index.search("channel id", 1)[0][0].original_name == "postMessage"


async def test_manager_search_tools_on_real_servers_and_after_reload() -> None:
    async with MCPManager(fleet(echo=stdio("echo.py"))) as manager:
        found = manager.search_tools("add two integers", limit=3)
        assert found[0].name == "mcp__echo__add"
        assert len(found) <= 3
        assert manager.search_tools("image png")[0].name == "mcp__echo__image"
        assert manager.search_tools("environment variable")[0].name == "mcp__echo__env"
        before = index_for(manager.catalogue)
        assert index_for(manager.catalogue) is before  # built once per catalogue snapshot

        # A new server joins: the next search sees its tools (a new snapshot, a new index).
        assert not [t for t in manager.search_tools("paged t3") if t.server == "paged"]
        with pytest.raises(ServerNotFound):
            manager.search_tools("t3", servers=["paged"])
        await manager.reload(fleet(echo=stdio("echo.py"), paged=stdio("paged.py")))
        assert index_for(manager.catalogue) is not before
        assert {t.server for t in manager.search_tools("t3", servers=["paged"])} == {"paged"}
        assert manager.search_tools("t3", servers=["echo"]) == []
