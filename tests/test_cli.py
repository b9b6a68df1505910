"""The command line, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TERSIFY = [sys.executable, "-m", "tersify.cli"]


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TERSIFY, *args], input=stdin, capture_output=True, text=True,
                          timeout=120)


def test_compress_stdin_prints_prompt_and_statistics() -> None:
    out = run("compress", "-q", "Where is Lyon?", "--ratio", "0.6",
              stdin="Lyon is in France. Tea came from China. Rivers flow to the sea.")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].startswith("Lyon is in France.")
    assert "--- tokens" in out.stdout and "policy tersify" in out.stdout


def test_compress_files_as_json(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("Everest is 8,849 metres tall. It is in Nepal.")
    b.write_text("Tea came from China. It spread to Japan.")
    out = run("compress", str(a), str(b), "-q", "How tall is Everest?", "--tokens", "20",
              "--json", "--policy", "tersify", "--scorer", "lexical")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["stats"]["compressed_tokens"] <= 20
    assert [d["id"] for d in result["documents"]] == [str(a), str(b)]
    assert "8,849" in result["compressed_prompt"]


def test_batch_jsonl_writes_one_result_per_line(tmp_path: Path) -> None:
    batch = tmp_path / "batch.jsonl"
    lines = [{"contexts": ["Lyon is in France. Tea came from China."], "question": q}
             for q in ("Lyon?", "Tea?", "France?")]
    batch.write_text("\n".join(json.dumps(x) for x in lines))
    out = run("compress", "--jsonl", str(batch), "--ratio", "0.5")
    assert out.returncode == 0, out.stderr
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(results) == 3
    assert all(r["stats"]["compressed_tokens"] <= r["stats"]["target_tokens"] for r in results)
    assert "3/3" in out.stderr  # the progress bar


def test_bad_input_exits_2_with_a_message() -> None:
    out = run("compress", "--ratio", "1.5", stdin="text")
    assert out.returncode == 2
    assert "target_ratio must be in (0, 1]" in out.stderr
    assert "Traceback" not in out.stderr


def test_demo_compresses_the_bundled_example() -> None:
    out = run("demo", "--ratio", "0.3")
    assert out.returncode == 0, out.stderr
    assert "12 November 2014" in out.stdout
    assert "documents kept" in out.stdout
