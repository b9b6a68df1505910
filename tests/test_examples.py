"""The examples run as a user would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_runs_and_compresses() -> None:
    out = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py")], capture_output=True,
                         text=True, timeout=120, check=True)
    assert "12 November 2014" in out.stdout
    for policy in ("tersify", "truncation", "fifo", "summarization", "h2o"):
        assert f"{policy}:" in out.stdout


def _run(name: str, without: str, tmp_path: Path) -> str:
    """Run an example on a Python that cannot import ``without`` (the other framework): a
    package of that name that fails to import, first on the path."""
    shadow = tmp_path / without
    shadow.mkdir()
    (shadow / "__init__.py").write_text(f"raise ImportError('No module named {without}')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True,
                          text=True, timeout=300, check=True, env=env).stdout


@pytest.mark.models
def test_langchain_rag_example_prints_savings_and_the_prompt(tmp_path: Path) -> None:
    out = _run("langchain_rag.py", "llama_index", tmp_path)
    assert "saved" in out and "Question: When did the Harbor Line tram" in out
    assert "14 May 1911" in out


@pytest.mark.models
def test_llamaindex_rag_example_prints_savings_prompt_and_answer(tmp_path: Path) -> None:
    out = _run("llamaindex_rag.py", "langchain_core", tmp_path)
    assert "saved" in out and "prompt the LLM received" in out
    assert "14 May 1911" in out.split("answer:")[-1]
