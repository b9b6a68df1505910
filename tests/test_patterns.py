"""force_keep_patterns from untrusted callers run in linear time (RE2), never backtracking."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tersify import Compressor, InvalidRequestError

HOSTILE = "(a+)+$"  # exponential for a backtracking engine on "aaa...a!"
VICTIM = "a" * 40 + "!"  # Python's re would need hours for this; RE2 microseconds


def test_a_hostile_pattern_finishes_with_linear_patterns() -> None:
    # In a child process with a deadline: with Python's re the child would never finish.
    script = textwrap.dedent(f"""
        from tersify import Compressor
        result = Compressor(linear_patterns=True).compress(
            contexts=[{VICTIM!r}, "The lighthouse opened in 1887."], question="lighthouse?",
            force_keep_patterns=[{HOSTILE!r}, "18[0-9]+"], target_ratio=0.9)
        print(result.compressed_prompt)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)
    assert "1887" in done.stdout


def test_linear_patterns_keep_what_re_keeps() -> None:
    contexts = ["Call 555-0100 or write to Sales.", "Ignore this. Price: 42 EUR today only."]
    fields = dict(contexts=contexts, question="contact", target_ratio=0.3,
                  force_keep_patterns=[r"\d{3}-\d{4}", r"(?i)\bprice: \d+"], force_keep=["Sales"])
    with_re = Compressor().compress(**fields)  # type: ignore[arg-type]
    with_re2 = Compressor(linear_patterns=True).compress(**fields)  # type: ignore[arg-type]
    assert with_re2.compressed_prompt == with_re.compressed_prompt
    for kept in ("555-0100", "Sales", "Price: 42"):
        assert kept in with_re2.compressed_prompt


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=a)b", r"(?<!x)y"])
def test_patterns_that_need_backtracking_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidRequestError, match=r"force_keep_patterns\[0\].*RE2"):
        Compressor(linear_patterns=True).compress(
            contexts=["aa b y"], question="q", force_keep_patterns=[pattern])
    # Trusted callers (the default) may still use them.
    Compressor().compress(contexts=["aa b y"], question="q", force_keep_patterns=[pattern])


def test_overlong_patterns_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="at most 1000"):
        Compressor().compress(contexts=["x"], question="q", force_keep_patterns=["a" * 1001])
