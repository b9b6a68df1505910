"""``tersify batch``: a corpus in, one result per good row out, bad rows reported, resumable.

The in-process path runs in this process (``compress_corpus``) and as the real command; the Ray
path (marked ``ray``) starts one small local Ray for the module and must give the same results.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tersify import Compressor
from tersify.integrations.batch import BatchOptions, BatchReport, compress_corpus
from tersify.wire import request_from_dict

TERSIFY = [str(Path(sys.executable).with_name("tersify"))]
TOPICS = [
    ("Where is Lyon?", ["Lyon is a city in France. It lies on the Rhone.",
                        "Tea came from China. People drink it hot or cold."]),
    ("Who wrote Hamlet?", ["Hamlet is a tragedy by William Shakespeare. It is set in Denmark.",
                           "The Thames flows through London. It has many bridges."]),
    ("What is the boiling point of water?", ["Water boils at 100 degrees Celsius at sea level.",
                                             "Mount Everest is the highest mountain."]),
    ("When did the Berlin Wall fall?", ["The Berlin Wall fell in November 1989.",
                                        "Jazz started in New Orleans. Louis Armstrong played it."]),
]


def corpus(n: int = 8) -> list[dict[str, Any]]:
    """``n`` requests: ids on most, none on every fifth (named after its line), varied ratios."""
    rows = []
    for i in range(n):
        question, contexts = TOPICS[i % len(TOPICS)]
        row: dict[str, Any] = {"question": question, "contexts": contexts,
                               "target_ratio": (0.3, 0.5, 0.8)[i % 3]}
        if i % 5 != 4:
            row["id"] = f"q{i}"
        rows.append(row)
    return rows


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """A result line without its timing, the one thing two runs may differ in."""
    return {k: v for k, v in record.items() if k != "duration_ms"}


def by_id(path: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: comparable(r) for r in read_jsonl(path)}


def run_quietly(source: Path, out: Path, **options: Any) -> tuple[BatchReport, str]:
    log = io.StringIO()
    report = compress_corpus(source, out, BatchOptions(progress=False, **options), log=log)
    return report, log.getvalue()


def test_one_result_line_per_request_line_in_input_order(tmp_path: Path) -> None:
    rows = corpus()
    report, log = run_quietly(write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl")
    out = read_jsonl(tmp_path / "out.jsonl")
    assert (report.written, report.bad, report.skipped, report.stopped) == (8, 0, 0, False)
    assert log == "" and (tmp_path / "out.errors.jsonl").read_text() == ""
    assert [r["line"] for r in out] == list(range(1, 9))
    assert [r["id"] for r in out] == [row.get("id", f"line-{i + 1}") for i, row in enumerate(rows)]
    compressor = Compressor(preset="fast")
    for row, record in zip(rows, out):
        fields = {k: v for k, v in row.items() if k != "id"}
        expected = compressor.compress(request_from_dict(fields)).to_dict()
        assert comparable(record) == {"id": record["id"], "line": record["line"],
                                      **comparable(expected)}


def test_parquet_in_and_out_give_the_jsonl_results(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    parquet = pytest.importorskip("pyarrow.parquet")
    rows = corpus()
    run_quietly(write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl")
    # Parquet columns are shared: a row without an id holds a null, which counts as absent.
    parquet.write_table(pa.Table.from_pylist(rows), tmp_path / "in.parquet")
    report, _ = run_quietly(tmp_path / "in.parquet", tmp_path / "out.parquet")
    assert report.written == len(rows) and not (tmp_path / "out.parquet.partial.jsonl").exists()
    table = parquet.read_table(tmp_path / "out.parquet").to_pylist()
    got = {r["id"]: comparable({**r, "documents": json.loads(r["documents"])}) for r in table}
    assert got == by_id(tmp_path / "out.jsonl")


def test_a_parquet_output_grows_with_its_corpus_and_keeps_no_journal(tmp_path: Path) -> None:
    parquet = pytest.importorskip("pyarrow.parquet")
    rows, out = corpus(), tmp_path / "out.parquet"
    run_quietly(write_jsonl(tmp_path / "in.jsonl", rows[:3]), out)
    # A run killed before its end left a journal with one whole line and half of the next.
    journal = tmp_path / "out.parquet.partial.jsonl"
    run_quietly(write_jsonl(tmp_path / "more.jsonl", rows[3:5]), tmp_path / "more.jsonl.out")
    lines = (tmp_path / "more.jsonl.out").read_bytes().splitlines(keepends=True)
    journal.write_bytes(lines[0].replace(b'"line": 1', b'"line": 4') + lines[1][:40])
    report, _ = run_quietly(write_jsonl(tmp_path / "in.jsonl", rows), out)
    assert (report.written, report.skipped) == (4, 4) and not journal.exists()
    table = parquet.read_table(out).to_pylist()
    assert sorted(r["line"] for r in table) == list(range(1, 9))
    assert len({r["id"] for r in table}) == 8


BAD_LINES = {
    3: ("{not json", "not valid JSON"),
    5: ('{"id": "q-bad", "question": "x", "contexts": "a string"}', "contexts must be a list"),
    6: ('{"id": "q0", "question": "x", "contexts": ["a b"]}', "duplicate id 'q0' (first on line 1)"),
    8: ('{"id": "q9", "question": "x", "contexts": ["a"], "target_ratio": 7}', "target_ratio"),
    9: ('{"id": "q10", "questoin": "typo"}', "unknown request field(s) questoin"),
    10: ('[1, 2]', "a request must be a JSON object"),
    11: ('{"id": 1.5, "question": "x"}', "id must be a non-empty string or an integer"),
}


def corpus_with_bad_lines(path: Path) -> Path:
    good = iter(corpus(6))
    lines = [BAD_LINES[n][0] if n in BAD_LINES else json.dumps(next(good)) for n in range(1, 14)]
    path.write_text("\n".join(lines) + "\n\n")  # a trailing blank line is no row
    return path


def test_bad_rows_are_reported_by_line_and_skipped(tmp_path: Path) -> None:
    source = corpus_with_bad_lines(tmp_path / "in.jsonl")
    report, log = run_quietly(source, tmp_path / "out.jsonl")
    assert (report.written, report.bad, report.stopped) == (6, len(BAD_LINES), False)
    assert [r["line"] for r in read_jsonl(tmp_path / "out.jsonl")] == [1, 2, 4, 7, 12, 13]
    errors = read_jsonl(tmp_path / "out.errors.jsonl")
    assert [e["line"] for e in errors] == sorted(BAD_LINES)
    for error, (n, (_, message)) in zip(errors, sorted(BAD_LINES.items())):
        assert message in error["error"], error
        assert f"{source}, line {n}: " in log
    assert log.count("\n") == len(BAD_LINES)


def test_stop_ends_the_run_at_the_first_bad_row_and_the_command_exits_2(tmp_path: Path) -> None:
    source = corpus_with_bad_lines(tmp_path / "in.jsonl")
    report, _ = run_quietly(source, tmp_path / "out.jsonl", on_error="stop")
    assert report.stopped and (report.written, report.bad) == (2, 1)
    done = subprocess.run([*TERSIFY, "batch", str(source), "--out", str(tmp_path / "out.jsonl"),
                           "--on-error", "stop"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{source}, line 3: not valid JSON" in done.stderr
    assert "0 written, 1 bad, 2 already done" in done.stderr
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 2


def test_the_command_compresses_and_a_rerun_skips_every_row(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", corpus())
    command = [*TERSIFY, "batch", str(source), "--out", str(tmp_path / "out.jsonl")]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and "8 written, 0 bad, 0 already done" in first.stderr
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "0 written, 0 bad, 8 already done" in again.stderr
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 8


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A corpus and the output of one uninterrupted run over it."""
    where = tmp_path_factory.mktemp("full")
    source = write_jsonl(where / "in.jsonl", corpus(10))
    run_quietly(source, where / "out.jsonl")
    return source, (where / "out.jsonl").read_bytes()


@settings(max_examples=40)  # each example compresses the rows the cut lost
@given(cut=st.floats(0, 1))
def test_a_run_killed_at_any_byte_resumes_to_the_full_output(
        full_run: tuple[Path, bytes], tmp_path_factory: pytest.TempPathFactory,
        cut: float) -> None:
    source, full = full_run
    out = tmp_path_factory.mktemp("resume") / "out.jsonl"
    kept = full[:int(cut * len(full))]  # as a kill leaves it: whole lines, maybe half a line
    out.write_bytes(kept)
    report, _ = run_quietly(source, out)
    assert report.skipped == kept.count(b"\n") and report.written == 10 - report.skipped
    assert [comparable(json.loads(line)) for line in out.read_bytes().splitlines()] \
        == [comparable(json.loads(line)) for line in full.splitlines()]


def test_an_output_line_that_is_no_result_stops_the_run_before_anything(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", corpus(2))
    out = tmp_path / "out.jsonl"
    out.write_text("hello\n")
    done = subprocess.run([*TERSIFY, "batch", str(source), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "line 1 is not a result line" in done.stderr
    assert out.read_text() == "hello\n"


def test_ray_missing_names_the_extra(tmp_path: Path) -> None:
    # A package named ray that fails to import, first on the path: the extra is missing.
    shadow = tmp_path / "shadow" / "ray"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named ray', name='ray')\n")
    source = write_jsonl(tmp_path / "in.jsonl", corpus(2))
    path = os.pathsep.join(p for p in (str(shadow.parent), os.environ.get("PYTHONPATH")) if p)
    done = subprocess.run([*TERSIFY, "batch", str(source), "--out", str(tmp_path / "o.jsonl"),
                           "--ray"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": path})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "install it with pip install 'tersify[ray]'" in done.stderr


def test_the_command_line_imports_neither_ray_nor_pyarrow() -> None:
    code = ("import sys, tersify.integrations.cli, tersify.integrations.batch; "
            "print(sorted({'ray', 'pyarrow'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "[]"


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One small local Ray for the module (2 CPUs, a 300 MB object store, no dashboard)."""
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 object_store_memory=300 * 2**20)
    yield
    if started:
        ray.shutdown()


@pytest.mark.ray
@pytest.mark.usefixtures("local_ray")
def test_ray_with_two_actors_gives_the_single_process_results(tmp_path: Path) -> None:
    source = corpus_with_bad_lines(tmp_path / "in.jsonl")
    run_quietly(source, tmp_path / "one.jsonl")
    report, log = run_quietly(source, tmp_path / "ray.jsonl", use_ray=True, workers=2,
                              batch_size=2)
    assert (report.written, report.bad, report.stopped) == (6, len(BAD_LINES), False)
    assert by_id(tmp_path / "ray.jsonl") == by_id(tmp_path / "one.jsonl")
    # Rows this fast may all be done by the first actor to start, before the second is up.
    assert 1 <= len(report.peak_rss_mb) <= 2
    assert all(name.startswith("pid ") and mb > 50 for name, mb in report.peak_rss_mb.items())
    assert read_jsonl(tmp_path / "ray.errors.jsonl") == read_jsonl(tmp_path / "one.errors.jsonl")
    again, _ = run_quietly(source, tmp_path / "ray.jsonl", use_ray=True)
    assert (again.written, again.skipped) == (0, 6)


@pytest.mark.ray
@pytest.mark.usefixtures("local_ray")
def test_ray_stop_ends_the_run_before_ray_compresses_anything(tmp_path: Path) -> None:
    source = corpus_with_bad_lines(tmp_path / "in.jsonl")
    report, _ = run_quietly(source, tmp_path / "out.jsonl", use_ray=True, on_error="stop")
    assert report.stopped and (report.written, report.bad) == (0, 1)


@pytest.mark.ray
def test_the_command_with_ray_writes_one_result_line_per_request_line(tmp_path: Path) -> None:
    # the README's command on the bundled sample corpus
    pytest.importorskip("ray")
    source = Path(__file__).resolve().parents[1] / "examples" / "data" / "requests.jsonl"
    ids = [json.loads(line)["id"] for line in source.read_text(encoding="utf-8").splitlines()]
    out = tmp_path / "results.jsonl"
    done = subprocess.run([*TERSIFY, "batch", str(source), "--out", str(out), "--ray"],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{len(ids)} written, 0 bad, 0 already done" in done.stderr
    results = read_jsonl(out)
    assert sorted(r["id"] for r in results) == sorted(ids) and len(ids) == 6
    assert all(r["stats"]["compressed_tokens"] < r["stats"]["original_tokens"] for r in results)


@pytest.mark.models
@pytest.mark.ray
@pytest.mark.usefixtures("local_ray")
def test_ray_loads_the_accurate_model_in_its_actors_and_matches_one_process(
        tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", corpus(6))
    run_quietly(source, tmp_path / "one.jsonl", preset="accurate")
    report, _ = run_quietly(source, tmp_path / "ray.jsonl", preset="accurate", use_ray=True,
                            batch_size=2)
    assert report.written == 6 and by_id(tmp_path / "ray.jsonl") == by_id(tmp_path / "one.jsonl")
    assert {r["scorer"] for r in read_jsonl(tmp_path / "ray.jsonl")} == {"embedding"}
