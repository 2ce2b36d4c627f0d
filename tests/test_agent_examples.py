"""The agent examples run offline on the demo fleet and do what they print."""

from __future__ import annotations

import os
import subprocess

from .conftest import EXAMPLES, PY


def test_openai_loop_and_langchain_agent_examples_run() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PATCHBAY_PYTHON"}
    # Both at once: each is mostly waiting for its demo servers to start.
    procs = {
        script: subprocess.Popen(
            [PY, str(EXAMPLES / script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for script in ("openai_loop.py", "langchain_agent.py")
    }
    outputs = {}
    for script, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{script} failed:\n{out}\n{err}"
        outputs[script] = out

    openai = outputs["openai_loop.py"]
    assert "answer: (2 + 3) * 7 = 35.0; it is 20" in openai
    assert "b: 'zero' is not of type 'number'" in openai
    assert "1 / 4 = 0.25" in openai
    assert "search mode: 2 definitions" in openai
    assert "answer: 6 * 7 = 42.0" in openai

    langchain = outputs["langchain_agent.py"]
    assert "9 LangChain tools" in langchain
    assert "[error] 'Error executing tool divide: division by zero'" in langchain
    assert "answer: Saved the note" in langchain
    assert "- idea" in langchain  # the note the agent added is in the index resource
