"""The examples run as a user would run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_runs_and_compresses() -> None:
    out = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py")], capture_output=True,
                         text=True, timeout=120, check=True)
    assert "12 November 2014" in out.stdout
    for policy in ("tersify", "truncation", "fifo", "summarization", "h2o"):
        assert f"{policy}:" in out.stdout
