"""Ranked tool search (BM25) over names, descriptions and argument names, for fleets too big to list.

Written here rather than taken from PyPI: ``rank-bm25`` (last release 2022) and ``bm25s`` both
pull in numpy, which would make ``import patchbay`` heavy for about forty lines of arithmetic. What
decides search quality on tool catalogues is the tokenisation (``get_current_time``, ``listIssues``,
``files`` vs ``file``), and that is ours either way.

Each tool becomes one document whose fields are repeated by weight (a cheap BM25F): the tool's own
name counts three times, its title twice, and its server name, description, argument names and
argument descriptions once. The index for a catalogue is built on first search and kept for as
long as that catalogue snapshot lives (the manager builds a new snapshot when a listing changes).
"""

from __future__ import annotations

import math
import re
import weakref
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from .catalogue import Catalogue, Tool

__all__ = ["ToolIndex", "index_for", "tokenize"]

K1 = 1.2
B = 0.75
NAME_WEIGHT = 3
TITLE_WEIGHT = 2

_WORD = re.compile(r"[A-Za-z]+|[0-9]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "get",
        "give",
        "how",
        "i",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "please",
        "some",
        "that",
        "the",
        "this",
        "to",
        "use",
        "using",
        "what",
        "when",
        "which",
        "with",
        "you",
        "your",
    ]
)


def _stem(word: str) -> str:
    """A deliberately tiny suffix stripper: plurals and the commonest verb endings.

    A final ``e`` goes too, so that ``stage``, ``stages``, ``staged`` and ``staging`` all meet at
    ``stag``; the stems are only ever compared with each other, never shown.
    """
    if len(word) > 4 and word.endswith(("ies", "ied")):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    elif len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed") and not word.endswith("eed"):
        word = word[:-2]
    if len(word) > 3 and word.endswith("e") and not word.endswith("ee"):
        word = word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed terms; ``snake_case``, ``kebab-case`` and ``camelCase`` are split apart.

    ``get`` is a stop word on purpose: half of all tools start with it, so it only adds noise.
    """
    terms = []
    for chunk in _WORD.findall(text):
        for part in _CAMEL.findall(chunk):
            word = part.lower()
            if word not in _STOPWORDS:
                terms.append(_stem(word))
    return terms


def _document(tool: Tool) -> list[str]:
    terms = tokenize(tool.original_name) * NAME_WEIGHT
    if tool.title:
        terms += tokenize(tool.title) * TITLE_WEIGHT
    terms += tokenize(tool.server)
    terms += tokenize(tool.description or "")
    properties = tool.input_schema.get("properties")
    if isinstance(properties, dict):
        for arg, spec in properties.items():
            terms += tokenize(str(arg))
            if isinstance(spec, dict) and isinstance(spec.get("description"), str):
                terms += tokenize(spec["description"])
    return terms


class ToolIndex:
    """A BM25 index over a fixed list of tools."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self.tools: list[Tool] = list(tools)
        self._tf: list[Counter[str]] = []
        self._lengths: list[int] = []
        df: Counter[str] = Counter()
        for tool in self.tools:
            counts = Counter(_document(tool))
            self._tf.append(counts)
            self._lengths.append(sum(counts.values()))
            df.update(counts.keys())
        n = len(self.tools)
        self._avg_length = (sum(self._lengths) / n) if n else 0.0
        self._idf = {term: math.log(1 + (n - freq + 0.5) / (freq + 0.5)) for term, freq in df.items()}
        self._postings: dict[str, list[int]] = {}
        for i, counts in enumerate(self._tf):
            for term in counts:
                self._postings.setdefault(term, []).append(i)

    def __len__(self) -> int:
        return len(self.tools)

    def search(
        self, query: str, limit: int = 10, servers: Sequence[str] | None = None
    ) -> list[tuple[Tool, float]]:
        """The best ``limit`` tools for ``query`` with their scores, best first.

        Tools sharing no term with the query are never returned; ties keep catalogue order.
        """
        if limit <= 0:
            return []
        allowed = set(servers) if servers is not None else None
        scores: dict[int, float] = {}
        for term in set(tokenize(query)):
            idf = self._idf.get(term)
            if idf is None:
                continue
            for i in self._postings[term]:
                tf = self._tf[i][term]
                norm = K1 * (1 - B + B * self._lengths[i] / self._avg_length)
                scores[i] = scores.get(i, 0.0) + idf * tf * (K1 + 1) / (tf + norm)
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        hits = [
            (self.tools[i], score)
            for i, score in ranked
            if allowed is None or self.tools[i].server in allowed
        ]
        return hits[:limit]


_indexes: weakref.WeakKeyDictionary[Catalogue, ToolIndex] = weakref.WeakKeyDictionary()


def index_for(catalogue: Catalogue) -> ToolIndex:
    """The index of this catalogue snapshot, built once and dropped together with the snapshot."""
    index = _indexes.get(catalogue)
    if index is None:
        index = _indexes[catalogue] = ToolIndex(catalogue.tools.values())
    return index


def describe(tool: Tool) -> dict[str, Any]:
    """What a search hit tells a model: enough to call the tool without listing it up front."""
    entry: dict[str, Any] = {"name": tool.name}
    if tool.description:
        entry["description"] = tool.description
    entry["input_schema"] = tool.input_schema
    return entry
