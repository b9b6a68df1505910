"""How the presets' knobs were chosen: a grid search on tuning questions, never the benchmark's.

    python benchmarks/tune.py       # the training/tuning splits below, about 40 minutes

For each preset its scorer stays what defines it (``fast``: ``lexical``; ``balanced``:
``embedding`` with BM25 sentences; ``accurate``: ``embedding`` on sentences too) and the grid
covers its knobs: the policy's ``doc_weight`` (:data:`DOC_WEIGHTS`) and, for the embedding
presets, the scorer's ``lexical_weight`` (:data:`LEXICAL_WEIGHTS`). Every configuration
compresses every tuning question at every ratio of :data:`RATIOS` (the benchmark's, same budget
and recall rule as run.py); the objective is the mean answer recall over the ratios, ties going
to the higher recall at the lowest ratio, then to the earlier grid point.

The questions (``--sets``, each ``file:first:count``) are training and tuning splits of every
kind of data, so that the presets do well on all of them, not on one: nq20 1000-1149 (its
README reserves them for tuning), musique_train and hotpot_train (multi-hop), dureader_zh
(Chinese search results). The objective is the mean over the sets. The dev sets (musique20,
cmrc_zh, xquad11) and nq20's first 200 (the benchmark's) are refused.
MiniLM embeddings are computed once per text and every configuration re-fuses them, so the
grid costs little more than one pass of ``accurate``.

Writes ``<out>.json`` (every configuration's recall at each ratio, the choice and the presets
in the code) and ``<out>.md`` (the best configurations of each preset); ``--out`` defaults to
``benchmarks/results/tuning``. It prints whether the code's presets are the choice.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics import answer_kept  # noqa: E402
from run import documents_of, resolve_data  # noqa: E402

import tersify  # noqa: E402
from tersify.policies import Tuning  # noqa: E402
from tersify.presets import get_preset  # noqa: E402
from tersify.scorers import Scores  # noqa: E402
from tersify.segment import Segmented, segment  # noqa: E402

BENCHMARK_QUESTIONS = 200  # run.py's --n: the first 200 are never used for choices
DEV_SETS = ("musique20", "cmrc_zh", "xquad11")  # measured only, never tuned on
SETS = ",".join(f"../shared/eval/{s}" for s in (
    "nq20.jsonl:1000:150", "musique_train.jsonl:0:100", "hotpot_train.jsonl:0:91",
    "dureader_zh.jsonl:0:177"))
RATIOS = (0.5, 0.33, 0.25, 0.2, 0.1)
DOC_WEIGHTS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)
LEXICAL_WEIGHTS = (0.0, 0.3, 0.5, 1.0)
UNIT_MODES = {"fast": None, "balanced": "lexical", "accurate": "embedding"}
Config = tuple[str, float, float | None]  # preset, doc_weight, lexical_weight


class GivenScores:
    """A scorer that returns scores computed beforehand (the grid re-selects, never re-scores)."""

    name = "given"

    def __init__(self) -> None:
        self.scores: Scores | None = None

    def score(self, question: str, documents: Sequence[Segmented]) -> Scores:
        assert self.scores is not None
        return self.scores


def memoized_embedding() -> Any:
    """tersify's embedding scorer, with each text embedded once for the whole grid."""
    import numpy as np

    from tersify.scorers.embedding import EmbeddingScorer

    class Memoized(EmbeddingScorer):
        memo: dict[str, Any] = {}

        def embed(self, texts: Sequence[str]) -> Any:
            missing = [t for t in dict.fromkeys(texts) if t not in self.memo]
            if missing:
                self.memo.update(zip(missing, super().embed(missing), strict=True))
            return np.stack([self.memo[t] for t in texts]) if texts else super().embed([])

    return Memoized()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--sets", default=SETS, help="file:first:count,... in ../shared/eval "
                   "(default: %(default)s)")
    p.add_argument("--presets", default="fast,balanced,accurate")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "tuning"))
    args = p.parse_args(argv)
    args.set_list = []
    for item in args.sets.split(","):
        name, first, count = item.rsplit(":", 2)
        if Path(name).stem in DEV_SETS or int(count) < 1 or (
                Path(name).stem == "nq20" and int(first) < BENCHMARK_QUESTIONS):
            p.error(f"--sets: {item} is a dev or benchmark split (the benchmark's questions are "
                    "never used for choices), or empty")
        args.set_list.append((name, int(first), int(count)))
    args.preset_list = [x for x in args.presets.split(",") if x]
    if not set(args.preset_list) <= set(UNIT_MODES):
        p.error(f"--presets: choose from {', '.join(UNIT_MODES)}")
    return args


def questions(path: Path, start: int, count: int) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in itertools.islice(fh, start, start + count):
            yield json.loads(line)


def grid(presets: Sequence[str]) -> list[Config]:
    """Every configuration, in grid order."""
    out: list[Config] = []
    for preset in presets:
        # lexical_weight fuses BM25 into the units' scores of ``embedding`` units only: the
        # documents' are the learned fusion's, and BM25 units have nothing to fuse
        weights: Sequence[float | None] = (LEXICAL_WEIGHTS if UNIT_MODES[preset] == "embedding"
                                           else (in_code(preset)["lexical_weight"],))
        out += [(preset, d, w) for w in weights for d in DOC_WEIGHTS]
    return out


def evaluate_grid(examples: Sequence[dict[str, Any]], configs: Sequence[Config]
                  ) -> dict[Config, dict[float, list[bool]]]:
    """Answer kept, per configuration, ratio and question."""
    given = GivenScores()
    compressors = {d: tersify.Compressor(scorer=given, tuning=Tuning(doc_weight=d))
                   for d in DOC_WEIGHTS}
    lexical = tersify.Compressor().scorer("lexical")
    embedding = memoized_embedding() if any(UNIT_MODES[c[0]] for c in configs) else None
    hits: dict[Config, dict[float, list[bool]]] = {c: {r: [] for r in RATIOS} for c in configs}
    for done, example in enumerate(examples, start=1):
        docs, question = documents_of(example), str(example["question"])
        segmented = [segment(d) for d in docs]
        for preset, lexical_weight in dict.fromkeys((c[0], c[2]) for c in configs):
            mode = UNIT_MODES[preset]
            if mode is None:
                given.scores = lexical.score(question, segmented)
            else:
                embedding.unit_mode, embedding.lexical_weight = mode, lexical_weight
                embedding.document_vectors = get_preset(preset).scorer_options.get(
                    "document_vectors", "encode")
                given.scores = embedding.score(question, segmented)
            for config in configs:
                if config[0] != preset or config[2] != lexical_weight:
                    continue
                for ratio in RATIOS:
                    result = compressors[config[1]].compress(
                        contexts=docs, question=question, target_ratio=ratio)
                    context = "\n\n".join(d.text for d in result.documents if d.text)
                    hits[config][ratio].append(answer_kept(example["answers"], context))
        print(f"  {done}/{len(examples)}", file=sys.stderr, flush=True)
    return hits


def summarize(*per_set: dict[Config, dict[float, list[bool]]]) -> list[dict[str, Any]]:
    """One row per configuration: recall per ratio (the mean over the sets) and their mean, in
    grid order."""
    rows = []
    for config, by_ratio in per_set[0].items():
        preset, doc_weight, lexical_weight = config
        recall = {str(r): statistics.fmean(statistics.fmean(hits[config][r]) for hits in per_set)
                  for r in by_ratio}
        rows.append({"preset": preset, "doc_weight": doc_weight,
                     "lexical_weight": lexical_weight, "recall": recall,
                     "mean": statistics.fmean(recall.values())})
    return rows


def choose(rows: Sequence[dict[str, Any]], preset: str) -> dict[str, Any]:
    """The best configuration of ``preset`` by the objective (see the module docstring)."""
    mine = [r for r in rows if r["preset"] == preset]
    lowest = str(min(RATIOS))
    return max(mine, key=lambda r: (round(r["mean"], 9), r["recall"][lowest]))  # first of ties


def in_code(preset: str) -> dict[str, Any]:
    """The preset's knobs as the code has them."""
    p = get_preset(preset)
    return {"doc_weight": p.tuning.doc_weight,
            "lexical_weight": p.scorer_options.get("lexical_weight")}


def markdown(report: dict[str, Any]) -> str:
    """The summary: per preset, the five best configurations, the choice and the code's."""
    lines = [f"# Preset tuning: {report['data']}", "",
             f"Command: `{report['command']}`. Objective: {report['objective']}.", ""]
    for preset, chosen in report["chosen"].items():
        code = report["in_code"][preset]
        ranked = sorted((r for r in report["results"] if r["preset"] == preset),
                        key=lambda r: -r["mean"])
        rank, mine = next((i, r) for i, r in enumerate(ranked, start=1)
                          if all(r[k] == code[k] for k in code))
        lines += [f"## {preset}", "", f"chosen: doc_weight {chosen['doc_weight']}, "
                  f"lexical_weight {chosen['lexical_weight']}; in the code: doc_weight "
                  f"{code['doc_weight']}, lexical_weight {code['lexical_weight']}, mean "
                  f"{mine['mean']:.4f}, {rank} of {len(ranked)} (best {ranked[0]['mean']:.4f})",
                  "",
                  "| doc_weight | lexical_weight | " + " | ".join(map(str, RATIOS))
                  + " | mean |", "|---|---|" + "---|" * (len(RATIOS) + 1)]
        lines += [f"| {r['doc_weight']} | {r['lexical_weight']} | "
                  + " | ".join(f"{v:.3f}" for v in r["recall"].values())
                  + f" | {r['mean']:.4f} |" for r in ranked[:5]]
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    configs = grid(args.preset_list)
    rows = summarize(*(evaluate_grid(list(questions(resolve_data(name), first, count)), configs)
                       for name, first, count in args.set_list))
    chosen = {p: {k: choose(rows, p)[k] for k in ("doc_weight", "lexical_weight")}
              for p in args.preset_list}
    report = {
        "data": args.sets, "questions": len(args.set_list),
        "command": " ".join(["python", "benchmarks/tune.py", *(argv or sys.argv[1:])]),
        "ratios": list(RATIOS), "objective": "mean answer recall over the sets and ratios; ties: "
        "recall at the lowest ratio, then grid order", "results": rows, "chosen": chosen,
        "in_code": {p: in_code(p) for p in args.preset_list},
    }
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    for preset in args.preset_list:
        verdict = "matches" if chosen[preset] == report["in_code"][preset] else "DIFFERS from"
        print(f"{preset}: chosen {chosen[preset]} {verdict} the code's "
              f"{report['in_code'][preset]}")


if __name__ == "__main__":
    main()
