"""Attacks through the transports, against real servers: secrets cut before masking, OAuth tokens
echoed back, endless HTTP bodies, a token endpoint on a third origin, escaped grandchildren,
endless listings and symlinks planted in the token directory (issue 12)."""

from __future__ import annotations

import json
import logging

import pytest

from patchbay import MCPManager

from .conftest import stdio

pytestmark = pytest.mark.anyio

CUT = 500  # the stderr line length kept (``_stdio._STDERR_LINE_CHARS``)


async def test_a_secret_straddling_the_stderr_cut_is_masked_whole(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The line is cut just before the key's last character: cut first, the rest would leak."""
    secret = "sk-cut-8a7b6c5d4e3f"
    monkeypatch.setenv("PB_CUT_SECRET", secret)
    padding = "x" * (CUT - len(secret) + 1)
    entry = stdio("crash.py", "--message", padding + "${PB_CUT_SECRET} tail")
    caplog.set_level(logging.DEBUG, logger="patchbay")
    async with MCPManager({"servers": {"leaky": entry}}) as manager:
        status = manager.status()["leaky"]
    assert status["state"] == "failed"
    assert f"{padding}***" in status["error"], status["error"]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"{padding}***" in logged, "the -v log has the masked line"
    shown = logged + json.dumps(status)
    for length in range(4, len(secret) + 1):
        assert secret[:length] not in shown, f"{length} characters of the key leaked"
