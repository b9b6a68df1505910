"""The examples run as a user would run them."""

from __future__ import annotations

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


def _run(name: str) -> str:
    return subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True,
                          text=True, timeout=300, check=True).stdout


@pytest.mark.models
def test_langchain_rag_example_prints_savings_and_the_prompt() -> None:
    out = _run("langchain_rag.py")
    assert "saved" in out and "Question: When did the Harbor Line tram" in out
    assert "14 May 1911" in out


@pytest.mark.models
def test_llamaindex_rag_example_prints_savings_prompt_and_answer() -> None:
    out = _run("llamaindex_rag.py")
    assert "saved" in out and "prompt the LLM received" in out
    assert "14 May 1911" in out.split("answer:")[-1]
