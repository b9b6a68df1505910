"""The benchmark's baselines and the tuning script's guard rails."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import run  # noqa: E402
import tune  # noqa: E402
from methods import COUNTER, LINGUA_METHODS, assemble, build_method, context_budget, target_tokens  # noqa: E402

TOPICS = ["volcano", "glacier", "desert", "river", "forest", "island", "canyon", "reef"]
DOCS = [f"{t.title()}\n" + " ".join(f"The {t} is {k * 3 + i} metres wide." for k in range(3 + i))
        for i, t in enumerate(TOPICS)]
QUESTION = "How wide is the glacier?"


@pytest.mark.parametrize("ratio", [0.6, 0.4, 0.25, 0.12])
def test_bm25_fill_adds_leading_sentences_to_bm25(ratio: float) -> None:
    whole = build_method("bm25")(DOCS, QUESTION, ratio, 0)
    filled = build_method("bm25-fill")(DOCS, QUESTION, ratio, 0)
    assert filled.target == whole.target == target_tokens(DOCS, QUESTION, ratio)
    assert whole.achieved <= filled.achieved <= filled.target
    assert filled.achieved == COUNTER.count(filled.prompt)
    assert filled.prompt == assemble(filled.doc_texts or [], QUESTION)
    assert whole.doc_texts is not None and filled.doc_texts is not None
    for doc, before, after in zip(DOCS, whole.doc_texts, filled.doc_texts, strict=True):
        if before:
            assert after == doc  # whole documents stay whole
        elif after:
            assert doc.startswith(after) and after.endswith(".")  # a leading run of sentences


def test_bm25_fill_uses_budget_that_bm25_leaves() -> None:
    gains = [build_method("bm25-fill")(DOCS, QUESTION, r, 0).achieved
             - build_method("bm25")(DOCS, QUESTION, r, 0).achieved for r in (0.6, 0.4, 0.25, 0.12)]
    assert any(g > 0 for g in gains)


def test_context_budget_leaves_room_for_the_question() -> None:
    """A context of the budget's size plus the question fits the target (LLMLingua's budget)."""
    for ratio in (0.5, 0.2, 0.1):
        target = target_tokens(DOCS, QUESTION, ratio)
        budget = context_budget(target, QUESTION)
        words: list[str] = []
        for word in " ".join(DOCS).split():
            if COUNTER.count(" ".join([*words, word])) > budget:
                break
            words.append(word)
        assert COUNTER.count(" ".join(words)) >= budget - 3  # the context used the budget
        assert COUNTER.count(assemble([" ".join(words)], QUESTION)) <= target
    assert context_budget(3, QUESTION) == 0  # never negative


@pytest.mark.models
def test_minilm_docs_ranks_the_relevant_document_first() -> None:
    method = build_method("minilm-docs")
    outcome = method(DOCS, "Which glacier is the widest ice sheet?", 0.15, 0)
    assert outcome.doc_texts is not None and outcome.achieved <= outcome.target
    kept = [i for i, t in enumerate(outcome.doc_texts) if t]
    assert 1 in kept and all(outcome.doc_texts[i] == DOCS[i] for i in kept)


def test_tuning_refuses_the_benchmark_questions() -> None:
    for refused in ("../shared/eval/nq20.jsonl:150:100", "../shared/eval/musique20.jsonl:0:10",
                    "../shared/eval/xquad11.jsonl:500:10"):
        with pytest.raises(SystemExit):
            tune.parse_args(["--sets", refused])
    chosen = tune.parse_args([]).set_list
    assert ("../shared/eval/nq20.jsonl", 1000, 150) in chosen and len(chosen) == 4


def test_tuning_grid_scores_each_configuration_on_every_question() -> None:
    examples = [{"question": f"How wide is the {t}?", "answers": [f"the {t} is 3 metres"],
                 "contexts": [{"title": d.split("\n")[0], "text": d.split("\n", 1)[1]}
                              for d in DOCS]} for t in TOPICS[:3]]
    hits = tune.evaluate_grid(examples, tune.grid(["fast"]))
    assert set(hits) == {("fast", d, None) for d in tune.DOC_WEIGHTS}
    assert all(len(v) == len(examples) for by_ratio in hits.values() for v in by_ratio.values())
    rows = tune.summarize(hits)
    best = tune.choose(rows, "fast")
    assert best["mean"] == max(r["mean"] for r in rows)
    report = {"data": "d", "questions": 1, "command": "c", "objective": "o",
              "results": rows, "chosen": {"fast": {"doc_weight": best["doc_weight"],
                                                   "lexical_weight": None}},
              "in_code": {"fast": tune.in_code("fast")}}
    assert f"in the code: doc_weight {tune.in_code('fast')['doc_weight']}" in tune.markdown(report)


def test_tuning_breaks_ties_by_the_lowest_ratio_then_grid_order() -> None:
    def row(doc_weight: float, low: float) -> dict[str, object]:
        return {"preset": "fast", "doc_weight": doc_weight, "lexical_weight": None,
                "recall": {"0.5": 1.0 - low, "0.1": low}, "mean": 0.5}

    assert tune.choose([row(0.5, 0.2), row(0.6, 0.3), row(0.7, 0.3)], "fast")["doc_weight"] == 0.6


def test_default_bench_runs_every_baseline_and_lm_beside_llmlingua() -> None:
    """The benchmark command of scripts/dev.py: lm on LongLLMLingua's questions, new baselines."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import dev

    assert {Path(d).stem for d in dev.BENCH_DATA} == {
        "nq20", "musique20", "dureader_zh", "cmrc_zh", "xquad11"}
    assert dev.BENCH_DATA["../shared/eval/musique20.jsonl"][1] >= 30  # LongLLMLingua beside
    for data, (n, few) in dev.BENCH_DATA.items():
        args = run.parse_args(["--data", data, "--n", str(n), "--lingua-n", str(few),
                               *dev.BENCH_ARGS])
        assert {"lm", "minilm-docs", "bm25", "bm25-fill", *LINGUA_METHODS} <= set(args.method_list)
        assert {run.questions_for(args, m) for m in ("lm", *LINGUA_METHODS)} == {few}
