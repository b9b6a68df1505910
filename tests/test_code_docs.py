"""Source code given as a document is kept or dropped a whole block at a time (issue 13, bug 10).

A block is a top-level definition with its body, or a group of one-line statements between
blank lines, with the comments and decorators right above it; a long one is cut at the next
indentation level, never inside a line. Prose, with a colon or a list, is not code.
"""

from __future__ import annotations

import io
import json
import re
from bisect import bisect_right
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tersify import CompressionRequest, Compressor, Document, InvalidRequestError
from tersify import code as code_module
from tersify.code import looks_like_code
from tersify.integrations.cli import CODE_SUFFIXES, _documents, main
from tersify.segment import Segmented, segment
from tersify.types import DOCUMENT_KINDS
from tersify.wire import request_from_dict, request_to_dict

PY = '''"""Utilities for reading settings files."""

import json
import os

DEFAULTS = {"debug": False, "verbose": False, "level": 3}


def load(path: str) -> dict:
    """Read settings from ``path``, falling back to the defaults."""
    if not os.path.exists(path):
        return dict(DEFAULTS)
    with open(path) as handle:
        data = json.load(handle)
    return {**DEFAULTS, **data}


# Written atomically: a crash never leaves half a file.
@staticmethod
def save(path: str, settings: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(settings, handle)
    os.replace(tmp, path)


class Settings:
    """A view of the settings with attribute access."""

    def __init__(self, data: dict) -> None:
        self.data = data

    def shout(self) -> str:
        return "！？\\")" if self.data.get("debug") else "ok"
'''

JS = '''// Small helpers for the settings page.
import { readFile } from "fs/promises";

const DEFAULTS = { debug: false, verbose: false, level: 3 };

export async function load(path) {
  try {
    const text = await readFile(path, "utf8");
    return { ...DEFAULTS, ...JSON.parse(text) };
  } catch (err) {
    return { ...DEFAULTS };
  }
}

function shout(settings) {
  if (settings.debug) {
    return "！？\\")";
  }
  return "ok";
}

class Settings {
  constructor(data) {
    this.data = data;
  }
}

module.exports = { load, shout, Settings };
'''

PROSE = [
    "Ingredients:\nflour, 200 g;\nsugar, 100 g;\neggs, 2.\nMix them well: then bake for 20 minutes.",
    "Note: the following applies.\nFirst: read the manual.\nSecond: call support.\nThird: wait.",
    "Rosetta (spacecraft)\nRosetta was a space probe built by the European Space Agency.\n"
    "It was launched on 2 March 2004.\nIt studied the comet 67P: its orbit, its shape, its dust.",
    "The formula is simple:\nE = mc2\nwhere m is the mass;\nand c is the speed of light.",
    "1. Open the box;\n2. Take out the device;\n3. Plug it in;\n4. Press the button (it glows).",
    "成都二手房交易流程:\n1.领取表格并填表;\n2.交易——买卖双方验人签字;\n3.查档——查房屋产权是否清晰;",
    "Dear Sam,\nthanks for the notes; they helped.\nif you need anything:\nlet me know.\nBest, Ana",
]


def blocks(text: str) -> list[str]:
    seg = segment(text)
    assert seg.code
    return [seg.unit_text(u) for u in seg.units]


def kept_words(seg: Segmented, spans: tuple[tuple[int, int], ...]) -> set[int]:
    starts = [a for a, _ in spans]
    kept = set()
    for w, (a, b) in enumerate(zip(seg.word_starts, seg.word_ends)):
        i = bisect_right(starts, a) - 1
        if i >= 0 and spans[i][0] <= a and b <= spans[i][1]:
            kept.add(w)
    return kept


def assert_whole_blocks(text: str, spans: tuple[tuple[int, int], ...]) -> None:
    """Every block of ``text`` is kept with all its words or with none."""
    seg = segment(text, code=True)
    kept = kept_words(seg, spans)
    for unit in seg.units:
        inside = {w for w in range(unit.first, unit.last) if w in kept}
        assert not inside or len(inside) == unit.last - unit.first, seg.unit_text(unit)


@pytest.mark.parametrize("text", [PY, JS])
def test_source_files_are_recognised_as_code(text: str) -> None:
    assert looks_like_code(text)


@pytest.mark.parametrize("text", PROSE)
def test_prose_with_colons_lists_and_equations_is_not_code(text: str) -> None:
    assert not looks_like_code(text)
    assert not segment(text).code


def test_markdown_with_a_fence_stays_markdown() -> None:
    text = "Run it:\n\n```python\nimport os\nx = 1\nprint(x)\ny = f(x);\n```\n"
    assert not looks_like_code(text)


def test_definitions_go_whole_with_their_decorators_and_comments() -> None:
    found = blocks(PY)
    assert found[1] == "import json\nimport os"
    assert found[2].startswith("DEFAULTS = {")
    assert found[3].startswith("def load(") and found[3].endswith("return {**DEFAULTS, **data}")
    assert found[4].startswith("# Written atomically") and "@staticmethod\ndef save(" in found[4]
    assert found[5].startswith("class Settings:") and found[5].endswith('else "ok"')


def test_braces_close_their_block() -> None:
    found = blocks(JS)
    assert found[0] == '// Small helpers for the settings page.\nimport { readFile } from "fs/promises";'
    assert found[2].startswith("export async function load(path) {") and found[2].endswith("}")
    assert "} catch (err) {" in found[2]
    assert found[-1] == "module.exports = { load, shout, Settings };"


def test_a_long_class_is_cut_into_its_methods(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code_module, "MAX_BLOCK_WORDS", 12)
    found = blocks(JS)
    assert "class Settings {\n  constructor(data) {" in found[-2]
    assert found[-2].endswith("}\n}")  # the closing brace goes with the last part
    whole_lines = {line.strip() for line in JS.splitlines()}
    for text in found:  # a cut never falls inside a line
        assert {line.strip() for line in text.splitlines()} <= whole_lines


@pytest.mark.parametrize(("name", "text"), [("settings.py", PY), ("settings.js", JS)])
@pytest.mark.parametrize("ratio", [0.15, 0.3, 0.5, 0.8])
def test_issue_examples_keep_no_lone_fragments(name: str, text: str, ratio: float) -> None:
    result = Compressor().compress(contexts=[Document(text=text, id=name)],
                                   question="How are the settings saved?", target_ratio=ratio)
    doc = result.documents[0]
    assert_whole_blocks(text, tuple((s.start, s.end) for s in doc.spans))
    lines = [line.strip() for line in doc.text.splitlines()]
    assert "False" not in lines and "= False," not in lines
    assert all(re.search(r"\w", line) or _closes(line) for line in lines if line), lines
    assert {line.strip() for line in doc.text.splitlines()} <= {
        line.strip() for line in text.splitlines()}


def _closes(line: str) -> bool:
    """A line of closing brackets (the end of a block kept whole)."""
    return re.fullmatch(r"[)\]}]+[;,]?", line) is not None


def _function(name: str, body: list[str], js: bool) -> str:
    if js:
        return "\n".join([f"function {name}(a, b) {{", *(f"  {s};" for s in body), "}"])
    return "\n".join([f"def {name}(a, b):", *(f"    {s}" for s in body)])


STATEMENTS = st.lists(st.sampled_from(["x = a + b", "return f(a)", "print(a, b)", "y = [1, 2]",
                                       "total += a * 2", "z = {'k': False}"]), min_size=1,
                      max_size=8)


@st.composite
def code_documents(draw: st.DrawFn) -> str:
    js = draw(st.booleans())
    parts = []
    for i in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["def", "def", "stmts", "comment"]))
        if kind == "def":
            parts.append(_function(f"f{i}", draw(STATEMENTS), js))
        elif kind == "stmts":
            parts.append("\n".join(f"v{i}_{j} = {j}" for j in range(draw(st.integers(1, 4)))))
        else:
            parts.append(("// " if js else "# ") + f"note {i}: see below\n"
                         + _function(f"g{i}", draw(STATEMENTS), js))
    return "\n\n".join(parts) + "\n"


@given(text=code_documents(), ratio=st.floats(0.05, 1.0), question=st.sampled_from(
    ["", "what does f1 return?", "where is total computed"]))
def test_code_keeps_whole_blocks_within_the_budget(text: str, ratio: float, question: str) -> None:
    result = Compressor().compress(
        contexts=[Document(text=text, kind="code")], question=question, target_ratio=ratio)
    assert_whole_blocks(text, tuple((s.start, s.end) for s in result.documents[0].spans))
    if result.stats.budget_met:
        assert result.stats.compressed_tokens <= result.stats.target_tokens
    else:
        assert not result.documents[0].kept


@given(text=st.text(st.sampled_from(list("ab {}();:=#@\n\t\"'`/*")), max_size=200))
def test_code_units_cover_every_word_once_and_start_lines(text: str) -> None:
    seg = segment(text, code=True)
    covered = [w for u in seg.units for w in range(u.first, u.last)]
    assert covered == list(range(len(seg.word_starts)))
    for unit in seg.units:
        before = text[: seg.word_starts[unit.first]].rstrip(" \t")
        assert before == "" or before.endswith("\n")


def test_kind_overrides_detection() -> None:
    assert not segment(PY, code=False).code
    assert segment("plain words\nmore words\n", code=True).code
    result = Compressor().compress(contexts=[Document(text=PY, kind="text")], target_ratio=0.3)
    assert result.documents[0].kept


def test_kind_is_checked_and_travels_over_the_wire() -> None:
    assert DOCUMENT_KINDS == ("auto", "text", "code")
    with pytest.raises(InvalidRequestError, match="kind"):
        Document(text="x", kind="python")  # type: ignore[arg-type]
    req = CompressionRequest(contexts=[Document(text=PY, kind="code")])
    again = request_from_dict(json.loads(json.dumps(request_to_dict(req))))
    assert again.documents[0].kind == "code"
    with pytest.raises(InvalidRequestError):
        request_from_dict({"contexts": [{"text": "x", "kind": 3}]})


def test_cli_reads_a_directory_of_code_as_code(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "settings.py").write_text(PY, encoding="utf-8")
    (tmp_path / "web.js").write_text(JS, encoding="utf-8")
    (tmp_path / "notes.md").write_text(PROSE[2], encoding="utf-8")
    status = main(["compress", "-r", str(tmp_path), "-q", "How are settings saved?",
                   "--ratio", "0.3", "--json"])
    assert status == 0
    result = json.loads(capsys.readouterr().out)
    texts = {Path(d["id"]).name: (d["text"], d["spans"]) for d in result["documents"]}
    for name, source in (("settings.py", PY), ("web.js", JS)):
        text, spans = texts[name]
        assert_whole_blocks(source, tuple(map(tuple, spans)))
        assert all(re.search(r"\w", line) or _closes(line.strip())
                   for line in text.splitlines() if line.strip())
    assert {".py", ".js", ".ts", ".tsx", ".go", ".rs", ".c", ".h", ".sh"} <= CODE_SUFFIXES


@given(before=st.integers(0, 6), lines=st.integers(1, 12), ratio=st.floats(0.05, 0.95),
       granularity=st.sampled_from([None, "word"]))
def test_a_markdown_fence_goes_whole(before: int, lines: int, ratio: float,
                                     granularity: str | None) -> None:
    prose = " ".join(f"Sentence {i} says the tram opened in {1900 + i}." for i in range(before))
    fence = "```python\n" + "\n".join(f"value_{i} = compute({i}, tram=True)"
                                      for i in range(lines)) + "\n```"
    text = f"{prose}\n\n{fence}\n\nThe tram still runs today."
    result = Compressor().compress(contexts=[text], question="When did the tram open?",
                                   target_ratio=ratio, granularity=granularity)
    seg = segment(text)
    kept = kept_words(seg, tuple((s.start, s.end) for s in result.documents[0].spans))
    (unit,) = [u for u in seg.units if u.block]
    inside = {w for w in range(unit.first, unit.last) if w in kept}
    assert not inside or len(inside) == unit.last - unit.first


def test_cli_kind_overrides_the_suffix_and_reads_standard_input_as_code(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.py").write_text(PY, encoding="utf-8")
    (tmp_path / "b.txt").write_text(PY, encoding="utf-8")
    stdin = io.StringIO("")
    assert [d.kind for d in _documents([str(tmp_path)], stdin, recursive=True)] == ["code", "auto"]
    assert [d.kind for d in _documents([str(tmp_path)], stdin, recursive=True, kind="text")] == ["text"] * 2

    class Stdin(io.StringIO):
        buffer = io.BytesIO(PY.encode())

    assert main(["compress", "--kind", "code", "--ratio", "0.3", "--json"], Stdin()) == 0
    doc = json.loads(capsys.readouterr().out)["documents"][0]
    assert_whole_blocks(PY, tuple(map(tuple, doc["spans"])))


def test_code_pasted_into_prose_is_cut_into_blocks_and_the_prose_into_sentences() -> None:
    text = ("How do I read a settings file? I tried this but it fails.\n\n"
            "import json\ndef load(path):\n    with open(path) as f:\n"
            "        return json.load(f)\n\n"
            "It raises an error when the file is missing. What should I do: catch it?\n")
    seg = segment(text)
    assert not seg.code
    units = [(u.block, seg.unit_text(u)) for u in seg.units]
    assert units[0] == (False, "How do I read a settings file?")
    assert (True, "def load(path):\n    with open(path) as f:\n        return json.load(f)") in units
    assert units[-1] == (False, "What should I do: catch it?")
    assert not any(block for block, _ in units if "import" not in _ and "def" not in _)
