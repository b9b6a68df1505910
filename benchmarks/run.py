"""Quality and speed benchmark of tersify against baselines, on multi-document QA.

Run from the repository root (relative data paths are tried from the current directory, then
from the repository root; the data is read in place, never copied):

    python benchmarks/run.py --data ../shared/eval/nq20.jsonl --n 200 \\
        --ratios 0.5,0.33,0.25,0.2,0.1 --methods fast,balanced,accurate,none,truncation,random,bm25

Each of the first ``--n`` questions (file order) becomes 20 documents ``f"{title}\\n{text}"``
plus the question, verbatim, with no instruction. Methods (see methods.py):

- ``fast``, ``balanced``, ``accurate``: ``tersify.Compressor(preset=...)``, policy ``tersify``;
- ``lm``: ``Compressor(scorer="lm")``, slow, so it runs on the first ``--lm-n`` questions only;
- ``none``: the uncompressed prompt (one row, ratio 1.0);
- ``truncation``: the engine's ``truncation`` policy (keeps the beginning);
- ``random``: whole documents in a seeded random order (seed ``--seed * 1000003 + question
  index``), kept while they fit;  ``bm25``: whole documents ranked by BM25, kept while they fit.

Numbers in the table, per method and ratio:

- recall: share of questions with a gold answer in the compressed contexts (question
  excluded), SQuAD-normalized substring match (metrics.py);
- support recall / all support (only for data with several gold documents a question, e.g.
  ``musique20.jsonl``): mean share of supporting documents kept, and share of questions that
  kept all of them; a document is kept when half its normalized words survive;
- achieved/target: tokens of the compressed prompt (cl100k_base) over the budget, median
  [min-max]; in-band: share of examples within [0.95, 1.00]; kept: compressed / original tokens;
  the budget is the engine's ``stats.target_tokens`` for tersify methods, else
  ``int(ratio * tokens of the uncompressed prompt)``;
- p50 / p95 ms: latency of one compression (``time.perf_counter``), scoring included; each
  method makes one warm-up call first (question 0, not recorded). Engine methods score each
  question once (``score_cache_size=1``) and reuse the scores at its other ratios, so only the
  first, cold call of a question counts; the first ratio rotates with the question index, so
  each row's latency comes from a fifth of the questions;
- peak MB: ``ru_maxrss`` of the method's own process: every method runs in a subprocess
  (``--worker``), one after another, never in parallel.

Outputs: the table on stdout and in ``<out>.md`` (with date, machine and command), and one JSON
record per example in ``<out>_examples.jsonl``; ``--out`` defaults to
``benchmarks/results/<data file stem>``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chart import draw_chart  # noqa: E402
from errors import error_report, loss_stage  # noqa: E402
from methods import (  # noqa: E402
    CACHED_METHODS,
    COUNTER,
    LINGUA_METHODS,
    METHODS,
    Method,
    assemble,
    build_method,
)
from metrics import answer_kept, document_kept  # noqa: E402
from report import engine_checks, header, machine, rows_of, table  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BENCH_PYTHON = REPO / ".venv-bench" / "bin" / "python"
DEFAULT_DATA = "../shared/eval/nq20.jsonl"
Record = dict[str, Any]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="JSONL eval file (default: %(default)s)")
    p.add_argument("--n", type=int, default=200, help="first N questions (default: %(default)s)")
    p.add_argument("--lm-n", type=int, default=20, help="questions for the lm method")
    p.add_argument("--lingua-n", type=int, default=20,
                   help="questions for llmlingua and longllmlingua (default: %(default)s)")
    p.add_argument("--lingua-python", default=str(BENCH_PYTHON),
                   help="the Python that has llmlingua (default: %(default)s)")
    p.add_argument("--lm-path", default=None, help=argparse.SUPPRESS)
    p.add_argument("--ratios", default="0.5,0.33,0.25,0.2,0.1", help="comma-separated ratios")
    p.add_argument("--methods", default="fast,none,truncation,random,bm25",
                   help=f"comma-separated, from: {','.join(METHODS)}")
    p.add_argument("--seed", type=int, default=0, help="seed of the random baseline")
    p.add_argument("--out", default=None, help="results path prefix (default: results/<stem>)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--records", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.ratio_list = [float(r) for r in args.ratios.split(",") if r.strip()]
    args.method_list = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in args.method_list if m not in METHODS]
    if unknown or not all(0 < r <= 1 for r in args.ratio_list) or args.n < 1:
        p.error(f"bad --methods {unknown}, --ratios or --n; methods: {', '.join(METHODS)}")
    return args


def resolve_data(path: str) -> Path:
    """``path`` as given if it exists, else relative to the repository root."""
    given = Path(path)
    return given.resolve() if given.is_absolute() or given.exists() else (REPO / given).resolve()


def load(path: Path, n: int) -> Iterator[Record]:
    """The first ``n`` examples of a JSONL file, read lazily."""
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i >= n:
                return
            yield json.loads(line)


def documents_of(example: Record) -> list[str]:
    """The example's contexts formatted as ``title\\ntext``."""
    return [f"{c['title']}\n{c['text']}" for c in example["contexts"]]


# --- worker: one method, in its own process ---------------------------------------------------


def run_worker(args: argparse.Namespace) -> None:
    """Run one method over all examples and ratios; append JSON lines to ``args.records``."""
    name = args.worker
    n = questions_for(args, name)
    ratios = [1.0] if name == "none" else args.ratio_list
    method = build_method(name, seed=args.seed, model_path=args.lm_path)
    examples = list(load(resolve_data(args.data), n))
    warm = examples[0]
    method(documents_of(warm), str(warm["question"]), ratios[0], 0)  # warm-up, not recorded
    with open(args.records, "a", encoding="utf-8") as out:
        for index, example in enumerate(examples):
            # Engine methods score a question once and reuse the scores at the other ratios;
            # rotating the first ratio spreads the cold (scoring) calls evenly over the rows.
            start = index % len(ratios)
            for step, ratio in enumerate(ratios[start:] + ratios[:start]):
                record = evaluate(method, example, index, ratio)
                cold = step == 0 or name not in CACHED_METHODS
                out.write(json.dumps({"method": name, "cold": cold, **record}) + "\n")
            if (index + 1) % 10 == 0 or index + 1 == len(examples):
                print(f"  {name}: {index + 1}/{len(examples)}", file=sys.stderr, flush=True)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out.write(json.dumps({"method": name, "peak_mb": peak_mb}) + "\n")


def questions_for(args: argparse.Namespace, name: str) -> int:
    """How many questions method ``name`` runs (the slow ones run on the first few)."""
    if name == "lm":
        return min(args.n, args.lm_n)
    return min(args.n, args.lingua_n) if name in LINGUA_METHODS else args.n


def evaluate(method: Method, example: Record, index: int, ratio: float) -> Record:
    """Compress one example at one ratio and score it."""
    docs = documents_of(example)
    question = str(example["question"])
    outcome = method(docs, question, ratio, index)
    original = assemble(docs, question)
    gold = [int(g) for g in example.get("gold", [])]
    texts = outcome.doc_texts or [outcome.context] * len(docs)
    kept = [document_kept(docs[g], texts[g]) for g in gold]
    answers = [str(a) for a in example["answers"]]
    found = answer_kept(answers, outcome.context)
    return {
        "ratio": ratio, "index": index, "id": example["id"], "answers": answers,
        "original": COUNTER.count(original), "engine_original": outcome.engine_original,
        "target": outcome.target, "achieved": outcome.achieved,
        "recounted": COUNTER.count(outcome.prompt), "ms": round(outcome.ms, 3),
        "question_last": outcome.prompt.endswith(question),
        "answer_kept": found, "stage": None if found else loss_stage(answers, docs, texts),
        "gold": gold, "gold_kept": kept,
        "support_kept": sum(kept) / len(kept) if kept else None,
        "docs_kept": None if outcome.doc_texts is None else sum(1 for t in texts if t),
    }


# --- driver: every method in turn, then the report --------------------------------------------


def run_all(args: argparse.Namespace) -> tuple[list[Record], dict[str, float], list[str]]:
    """Run each method's worker in turn; its records, peak memory per method and failures."""
    records: list[Record] = []
    peaks: dict[str, float] = {}
    failures: list[str] = []
    for name in args.method_list:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        with tempfile.NamedTemporaryFile("r", suffix=".jsonl", encoding="utf-8") as tmp:
            result = subprocess.run(worker_command(args, name, tmp.name), check=False)
            if result.returncode != 0:
                failures.append(f"{name}: worker exited with code {result.returncode}")
                continue
            for line in tmp:
                item = json.loads(line)
                if "peak_mb" in item:
                    peaks[name] = float(item["peak_mb"])
                else:
                    records.append(item)
    return records, peaks, failures


def worker_command(args: argparse.Namespace, name: str, records: str) -> list[str]:
    """The subprocess command line that runs method ``name``."""
    python = args.lingua_python if name in LINGUA_METHODS else sys.executable
    command = [python, str(Path(__file__).resolve()), "--worker", name,
               "--data", args.data, "--n", str(args.n), "--lm-n", str(args.lm_n),
               "--lingua-n", str(args.lingua_n), "--ratios", args.ratios,
               "--seed", str(args.seed), "--records", records]
    return command + (["--lm-path", args.lm_path] if args.lm_path else [])


def report(args: argparse.Namespace, machine_line: str) -> None:
    """Run everything; print the tables; write ``<out>.md``, ``_errors.md``, ``.png``, records."""
    if args.lm_path is None and set(args.method_list) & set(LINGUA_METHODS):
        from tersify.models import smollm2_path

        args.lm_path = str(smollm2_path())
    records, peaks, failures = run_all(args)
    command = shlex.join(["python", *sys.argv])
    notes = engine_checks(records) + [f"- {f}" for f in failures]
    support = any(len(r["gold"]) > 1 for r in records)
    shared = min(questions_for(args, name) for name in args.method_list)
    same = [r for r in records if int(r["index"]) < shared]
    body = table(rows_of(records, peaks, args.method_list), support=support)
    if shared < args.n:
        body += (f"\n\nSide by side: every method on the same first {shared} questions "
                 "(latency and peak memory as above).\n\n"
                 + table(rows_of(same, peaks, args.method_list), support=support))
    if notes:
        body += "\n\nChecks:\n" + "\n".join(notes)
    print(body)
    prefix = Path(args.out) if args.out else REPO / "benchmarks" / "results" / Path(args.data).stem
    prefix.parent.mkdir(parents=True, exist_ok=True)
    md = prefix.with_name(prefix.name + ".md")
    md.write_text(header(command, args.data, machine_line) + "\n" + body + "\n", encoding="utf-8")
    questions = {str(e["id"]): str(e["question"]) for e in load(resolve_data(args.data), shared)}
    errors = prefix.with_name(prefix.name + "_errors.md")
    errors.write_text(error_report(same, args.method_list, questions), encoding="utf-8")
    examples = prefix.with_name(prefix.name + "_examples.jsonl")
    with examples.open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in records)
    png = prefix.with_name(prefix.name + ".png")
    chart = draw_chart(rows_of(same, peaks, args.method_list), png,
                       f"{Path(args.data).name}, first {shared} questions", support=support)
    print(f"\nwrote {md}, {errors}, {examples}{', ' + str(chart) if chart else ''}",
          file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: the driver, or one method's worker when ``--worker`` is given."""
    args = parse_args(argv)
    if args.worker:
        run_worker(args)
    else:
        report(args, machine())


if __name__ == "__main__":
    main()
