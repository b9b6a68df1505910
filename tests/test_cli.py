"""The command line, run as a real subprocess: the installed ``tersify`` script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TERSIFY = [str(Path(sys.executable).with_name("tersify"))]  # the virtualenv's console script


def run(*args: str, stdin: str | bytes = "",
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    done = subprocess.run([*TERSIFY, *args], input=data, capture_output=True, timeout=timeout)
    return subprocess.CompletedProcess(done.args, done.returncode,
                                       done.stdout.decode("utf-8", "replace"),
                                       done.stderr.decode("utf-8", "replace"))


def assert_bad_input(out: subprocess.CompletedProcess[str], message: str) -> None:
    """Exit status 2, one line on standard error that says what, and no traceback."""
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("tersify: error: "), out.stderr
    assert message in out.stderr
    assert "Traceback" not in out.stderr


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


GOOD = {"contexts": ["Lyon is in France. Tea came from China."], "question": "Lyon?"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"contexts": ["Lyon is in France."], "force_keep": [42]}',
         "line 3: force_keep[0] must be a non-empty string, got 42"),
        ('{"contexts": 42}', "line 3: contexts must be a list"),
        ('{"contexts": ["Lyon is in France."], "policy": ["x"]}', "line 3: policy must be a"),
        ('{"contexts": ["Lyon is in France."], "force_keep": "ACME"}', "line 3: force_keep must"),
        ('{"contexts": ["Lyon is in France."], "policy": "magic"}',
         "line 3: unknown policy 'magic'; valid choices: tersify, truncation"),
        ('{"contexts": ["Lyon is in France."], "scorer": "bm99"}',
         "line 3: unknown scorer 'bm99'; valid choices: lexical"),
        ('{"contexts": ["Lyon is in France."], "colour": "red"}', "line 3: unknown request field"),
        ('{"contexts": [{"text": "x", "id": 7}]}', "line 3: contexts[0].id must be a string"),
        ('{"contexts": ["Lyon is in France."], "target_ratio": NaN}', "line 3: target_ratio"),
        ('["Lyon is in France."]', "line 3: a request must be a JSON object"),
        ('{"contexts": ["Lyon is in France."]', "line 3: not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "line 3: not valid JSON"),
        ('{"contexts": ["x"], "target_tokens": 1' + "0" * 5000 + "}", "line 3: not valid JSON"),
    ],
)
def test_a_bad_batch_line_exits_2_naming_the_line(tmp_path: Path, line: str, message: str) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps(GOOD) + "\n\n" + line + "\n" + json.dumps(GOOD) + "\n")
    out = run("compress", "--jsonl", str(batch))
    assert_bad_input(out, f"{batch}, {message}")
    assert out.stdout == ""  # every line is checked before the first result is written


def test_a_batch_that_is_not_utf8_exits_2(tmp_path: Path) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_bytes(b'{"contexts": ["caf\xe9"]}\n')
    assert_bad_input(run("compress", "--jsonl", str(batch)), "is not UTF-8 text")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--tokens", "0"), "target_tokens must be a positive integer"),
        (("--ratio", "nan"), "target_ratio must be in (0, 1]"),
        (("--force-keep", ""), "force_keep[0] must be a non-empty string"),
        (("/no/such/file.txt",), "No such file or directory"),
        (("--tokenizer", "p50k_base"), "offline tokenizers: cl100k_base, o200k_base"),
        (("--tokenizer", "nobody/no-such-tokenizer"), "neither a local tokenizer directory"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    # 20 s: an unknown Hugging Face tokenizer used to retry the network for ~45 s.
    assert_bad_input(run("compress", *args, stdin="Lyon is in France.", timeout=20), message)


def test_files_and_a_batch_together_are_refused(tmp_path: Path) -> None:
    batch, doc = tmp_path / "batch.jsonl", tmp_path / "doc.txt"
    batch.write_text(json.dumps(GOOD))
    doc.write_text("Lyon is in France.")
    out = run("compress", str(doc), "--jsonl", str(batch))
    assert out.returncode == 2 and "give files or --jsonl, not both" in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_standard_input_that_is_not_utf8_is_read_with_replacements() -> None:
    out = run("compress", "--ratio", "1", "--json", stdin=b"Caf\xe9 in Lyon is open.")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["documents"][0]["text"] == "Caf\ufffd in Lyon is open."


@pytest.mark.parametrize("module", ["fastapi", "uvicorn", "sqlalchemy"])
@pytest.mark.parametrize("command", [("serve", "--port", "9"), ("keys", "list")])
def test_server_commands_without_the_server_extra_exit_2_in_one_line(
        tmp_path: Path, module: str, command: tuple[str, ...]) -> None:
    # A package of that name that fails to import, first on the path: the extra is missing.
    shadow = tmp_path / module
    shadow.mkdir()
    (shadow / "__init__.py").write_text(
        f"raise ImportError('No module named {module}', name={module!r})\n")
    name, *rest = command
    done = subprocess.run([*TERSIFY, name, "--database-url", f"sqlite:///{tmp_path}/k.db", *rest],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    if done.returncode == 0:  # keys needs no web framework: it ran
        assert module in ("fastapi", "uvicorn") and name == "keys"
        return
    assert_bad_input(done, "install it with pip install 'tersify[server]'")


def test_version_names_the_installed_release() -> None:
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("tersify ") and out.stdout[8].isdigit()


def test_empty_standard_input_exits_2() -> None:
    assert_bad_input(run("compress", stdin=""), "standard input is empty")
    assert_bad_input(run("compress", "-", stdin=" \n\t"), "standard input is empty")


def test_a_reader_that_leaves_early_gets_no_traceback() -> None:
    # As `tersify compress ... | head -1`: the output pipe closes after its first line.
    # distinct lines (a repeated one is kept once): a long output that fills the pipe
    text = "".join(f"Tram line {i} opened in {1000 + i} and ran along the harbour.\n"
                   for i in range(3000))
    proc = subprocess.Popen([*TERSIFY, "compress", "-q", "When?", "--ratio", "0.9"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(text.encode())
    proc.stdin.close()
    assert proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait(timeout=120) == 141
    assert proc.stderr.read() == b""


def test_help_shows_the_defaults() -> None:
    out = run("compress", "--help")
    assert "(default: fast)" in out.stdout and "(default: cl100k_base)" in out.stdout
    assert "(default: None)" not in out.stdout and "``" not in run("--help").stdout


def test_a_batch_takes_the_command_lines_texts_as_defaults(tmp_path: Path) -> None:
    batch = tmp_path / "batch.jsonl"
    doc = {"text": "The tram opened in 1961. Tickets cost two pennies.", "id": "a"}
    batch.write_text(json.dumps({"contexts": [doc]}) + "\n"
                     + json.dumps({"contexts": [doc], "question": "What did tickets cost?"}) + "\n")
    out = run("compress", "--jsonl", str(batch), "-q", "When did the tram open?",
              "-i", "Answer briefly.", "--force-keep", "pennies", "--ratio", "0.9")
    first, second = (json.loads(line)["compressed_prompt"] for line in out.stdout.splitlines())
    assert first.startswith("Answer briefly.") and first.endswith("When did the tram open?")
    assert second.endswith("What did tickets cost?")  # a line's own question wins
    assert "pennies" in first and "pennies" in second


def test_a_directory_is_read_whole_with_r(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "a.txt").write_text("The tram opened in 1961.")
    (tmp_path / "sub" / "b.md").write_text("Tickets cost two pennies.")
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main")
    assert_bad_input(run("compress", str(tmp_path)), "is a directory: add -r")
    out = run("compress", "-r", str(tmp_path), "--json", "--ratio", "1")
    ids = [d["id"] for d in json.loads(out.stdout)["documents"]]
    assert ids == [str(tmp_path / "a.txt"), str(tmp_path / "sub" / "b.md")]
    (tmp_path / "empty").mkdir()
    assert_bad_input(run("compress", "-r", str(tmp_path / "empty")), "no files under")
