"""The benchmark's report: same-question comparison, cold-call latency, records that rebuild it."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from metrics import summarize  # noqa: E402
from report import load_records, publish, render, save_records, shared_questions  # noqa: E402
from run import WARM_UP_QUESTION, main, split_warm_up  # noqa: E402
from tables import recall_grid  # noqa: E402

META = {"date": "2026-01-01 00:00 UTC", "machine": "test", "software": "test",
        "data": "data.jsonl", "command": "python benchmarks/run.py", "methods": ["slow", "quick"],
        "failures": []}


def _record(method: str, index: int, ratio: float, *, hit: bool, ms: float = 5.0,
            cold: bool = True) -> dict[str, Any]:
    return {"method": method, "cold": cold, "ratio": ratio, "index": index, "id": f"q{index}",
            "answers": ["x"], "original": 100, "engine_original": None, "target": 50,
            "achieved": 49, "recounted": 49, "ms": ms, "question_last": True,
            "answer_kept": hit, "stage": None if hit else "document dropped", "gold": [0],
            "gold_kept": [hit], "support_kept": 1.0 if hit else 0.0, "docs_kept": 1,
            "mapped": False}


def _run() -> list[dict[str, Any]]:
    """``quick`` runs 4 questions and misses the first two; ``slow`` runs the first 2 only."""
    return ([_record("slow", i, r, hit=True) for i in range(2) for r in (0.5, 0.1)]
            + [_record("quick", i, r, hit=i >= 2) for i in range(4) for r in (0.5, 0.1)])


def test_summarize_counts_cold_calls_only() -> None:
    rows = [_record("m", 0, 0.5, hit=True, ms=900.0),
            _record("m", 1, 0.5, hit=True, ms=5.0, cold=False)]
    assert summarize(rows)["n_lat"] == 1 and summarize(rows)["p50_ms"] == 900.0
    warm_only = summarize(rows[1:])
    assert warm_only["n_lat"] == 0 and "p50_ms" not in warm_only  # no cached call stands in


def test_report_compares_every_method_on_the_same_questions_first() -> None:
    records = _run()
    assert shared_questions(records) == 2
    text = render(META, records, {"slow": 10.0, "quick": 20.0})
    assert "same first 2 questions" in text
    grid = text.split("same first 2 questions, every method:", 1)[1].split("\n\n")[1]
    # On the shared questions quick kept nothing; over all 4 it kept half.
    assert "| quick | 2 | 0.000 | 0.000 |" in grid and "| slow | 2 | 1.000 | 1.000 |" in grid
    assert "| quick | 0.50 | 4 | 0.500 |" in text
    assert "n lat" in text


def test_recall_grid_leaves_missing_ratios_blank() -> None:
    records = [_record("none", 0, 1.0, hit=True), _record("a", 0, 0.5, hit=False)]
    grid = recall_grid(records, ["a", "none"])
    assert grid.splitlines()[0] == "| method | n | 1.00 | 0.50 |"
    assert "| a | 1 |  | 0.000 |" in grid and "| none | 1 | 1.000 |  |" in grid


def test_records_rebuild_the_same_report(tmp_path: Path) -> None:
    records, peaks = _run(), {"slow": 2145.04, "quick": 67.46}
    path = tmp_path / "run_records.jsonl.gz"
    save_records(path, META, records, peaks)
    meta, loaded, loaded_peaks = load_records(path)
    assert meta == META and loaded == records
    assert render(meta, loaded, loaded_peaks) == render(meta, records, loaded_peaks)
    written = publish(tmp_path / "run", meta, loaded, loaded_peaks, {"q0": "what?"})
    assert written[0].read_text() == render(meta, loaded, loaded_peaks)
    assert "what?" in written[1].read_text()
    save_records(tmp_path / "again.jsonl.gz", META, records, peaks)
    assert (tmp_path / "again.jsonl.gz").read_bytes() == path.read_bytes()  # reproducible


def test_warm_up_is_never_a_measured_question() -> None:
    examples = [{"id": str(i), "question": f"q{i}", "contexts": []} for i in range(4)]
    warm, measured = split_warm_up(examples, 3)
    assert warm["id"] == "3" and [e["id"] for e in measured] == ["0", "1", "2"]
    warm, measured = split_warm_up(examples, 4)  # no question after the range: a made-up one
    assert warm["question"] == WARM_UP_QUESTION and len(measured) == 4
    assert all(e["question"] != WARM_UP_QUESTION for e in measured)


def test_benchmark_run_keeps_per_question_records(tmp_path: Path) -> None:
    """A real run of the cheap methods: records file, every call cold, report rebuilt from it."""
    data = tmp_path / "data.jsonl"
    docs = [{"title": f"Doc {i}", "text": f"Document {i} tells about topic {i}. " * 8}
            for i in range(6)]
    lines = [{"id": f"q{k}", "question": f"What about topic {k}?", "answers": [f"topic {k}"],
              "gold": [k], "contexts": docs} for k in range(3)]
    data.write_text("".join(json.dumps(x) + "\n" for x in lines))
    main(["--data", str(data), "--n", "2", "--ratios", "0.5,0.2",
          "--methods", "fast,bm25-fill,none", "--out", str(tmp_path / "out")])
    with gzip.open(tmp_path / "out_records.jsonl.gz", "rt") as fh:
        items = [json.loads(line) for line in fh]
    records = [x for x in items if "ratio" in x]
    assert len(records) == 2 * 2 * 2 + 2 and all(r["cold"] for r in records)
    assert {r["index"] for r in records} == {0, 1}  # question 2 was only the warm-up
    meta, loaded, peaks = load_records(tmp_path / "out_records.jsonl.gz")
    assert set(peaks) == {"fast", "bm25-fill", "none"}
    assert (tmp_path / "out.md").read_text() == render(meta, loaded, peaks)
