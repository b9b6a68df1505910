"""Quality and speed benchmark of tersify against baselines, on multi-document QA.

Run from the repository root (relative data paths are tried from the current directory, then
from the repository root; the data is read in place, never copied):

    python benchmarks/run.py --data ../shared/eval/nq20.jsonl --n 200 \\
        --ratios 0.5,0.33,0.25,0.2,0.1 --methods fast,balanced,accurate,bm25,minilm-docs

Each of the first ``--n`` questions (file order) becomes 20 documents ``f"{title}\\n{text}"``
plus the question, verbatim, with no instruction. Methods (see methods.py):

- ``fast``, ``balanced``, ``accurate``: ``tersify.Compressor(preset=...)``, policy ``tersify``;
- ``lm``: ``Compressor(scorer="lm")`` (SmolLM2, the model LLMLingua drives here), slow, so it
  runs on the first ``--lm-n`` questions only (by default the LLMLingua methods' ones);
- ``llmlingua``, ``longllmlingua``: the reference code (lingua.py), first ``--lingua-n``;
- ``none``: the uncompressed prompt (one row, ratio 1.0);
- ``truncation``: the engine's ``truncation`` policy (keeps the beginning);
- ``random``, ``bm25``, ``minilm-docs``: whole documents in a seeded random order (seed
  ``--seed * 1000003 + question index``), by BM25 rank, by MiniLM rank, kept while they fit;
  ``bm25-fill``: ``bm25`` plus the leading sentences of the next documents in the budget left.

Numbers in the table, per method and ratio:

- recall: share of questions with a gold answer in the compressed contexts (question
  excluded), SQuAD-normalized substring match (metrics.py);
- support recall / all support (only for data with several gold documents a question, e.g.
  ``musique20.jsonl``): mean share of supporting documents kept, and share of questions that
  kept all of them; a document is kept when half its normalized words survive in its own
  compressed text (for LLMLingua, its words mapped back to documents: align.py);
- achieved/target: tokens of the compressed prompt (cl100k_base) over the budget, median
  [min-max]; in-band: share of examples within [0.95, 1.00]; kept: compressed / original tokens;
  the budget of every method is ``max(1, int(ratio * tokens of the uncompressed prompt))``, the
  engine's ``stats.target_tokens``;
- p50 / p95 ms and n lat: latency of one compression (``time.perf_counter``, scoring
  included) over the cold calls, and how many there were. The rule: only a call that ran its
  scorer is a sample. ``fast``, the LLMLingua methods and the cheap baselines keep no cache,
  so every call scores and every row has one sample per question. The model-backed methods
  (methods.CACHED_METHODS: ``balanced``, ``accurate``, ``lm``, ``minilm-docs``) score each
  question once and reuse the scores at its other ratios (scoring them at all five would make
  the run hours long); the ratio that scores first rotates with the question (question ``i``
  starts at ratio ``i mod len(ratios)``), so each row's latency comes from every fifth
  question and ``n lat`` says how many. Before the first measured call each method
  makes one warm-up call that is not recorded, on a question outside the measured range
  (the one after it in the file, or a made-up question over question 0's documents), so no
  measured question is in any cache;
- peak MB: ``ru_maxrss`` of the method's own process: every method runs in a subprocess
  (``--worker``), one after another, never in parallel.

When some methods run fewer questions, the report first compares every method on the same
first questions (a recall grid and the full table), then gives each method's table over all
the questions it ran. Outputs (report.py): ``<out>_records.jsonl.gz``, one JSON record per
example, from which ``<out>.md`` (with date, machine and command), ``<out>_errors.md`` (error
analysis, errors.py) and ``<out>.png`` are built; ``python benchmarks/report.py <out>``
rebuilds them. ``--out`` defaults to ``benchmarks/results/<data file stem>``.
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

from align import split_by_document  # noqa: E402
from errors import loss_stage  # noqa: E402
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
from report import (  # noqa: E402
    RECORDS_SUFFIX,
    describe_run,
    load_records,
    machine,
    publish,
    render,
    save_records,
)

REPO = Path(__file__).resolve().parent.parent
BENCH_PYTHON = REPO / ".venv-bench" / "bin" / "python"
DEFAULT_DATA = "../shared/eval/nq20.jsonl"
WARM_UP_QUESTION = "Which of these documents comes first?"
Record = dict[str, Any]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="JSONL eval file (default: %(default)s)")
    p.add_argument("--n", type=int, default=200, help="first N questions (default: %(default)s)")
    p.add_argument("--lm-n", type=int, default=None,
                   help="questions for the lm method (default: --lingua-n, the same ones)")
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
    args.lm_n = args.lingua_n if args.lm_n is None else args.lm_n
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


def split_warm_up(examples: list[Record], n: int) -> tuple[Record, list[Record]]:
    """The warm-up example and the measured ones, from the first ``n + 1`` of the file.

    The warm-up is question ``n`` (never measured by this method) when the file has it, else a
    made-up question over question 0's documents: no measured question warms any cache.
    """
    if len(examples) > n:
        return examples[n], examples[:n]
    return {**examples[0], "question": WARM_UP_QUESTION}, examples


def run_worker(args: argparse.Namespace) -> None:
    """Run one method over all examples and ratios; append JSON lines to ``args.records``."""
    name = args.worker
    n = questions_for(args, name)
    ratios = [1.0] if name == "none" else args.ratio_list
    method = build_method(name, seed=args.seed, model_path=args.lm_path)
    warm, examples = split_warm_up(list(load(resolve_data(args.data), n + 1)), n)
    method(documents_of(warm), str(warm["question"]), ratios[0], -1)  # not recorded
    with open(args.records, "a", encoding="utf-8") as out:
        for index, example in enumerate(examples):
            for step, ratio in enumerate(rotated(ratios, index)):
                record = evaluate(method, example, index, ratio)
                # A cached method scores at its question's first ratio only (see above).
                cold = step == 0 or name not in CACHED_METHODS
                out.write(json.dumps({"method": name, "cold": cold, **record}) + "\n")
            if (index + 1) % 10 == 0 or index + 1 == len(examples):
                print(f"  {name}: {index + 1}/{len(examples)}", file=sys.stderr, flush=True)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out.write(json.dumps({"method": name, "peak_mb": peak_mb}) + "\n")


def rotated(ratios: list[float], index: int) -> list[float]:
    """The ratios in the order question ``index`` runs them: the first one rotates."""
    start = index % len(ratios)
    return ratios[start:] + ratios[:start]


def questions_for(args: argparse.Namespace, name: str) -> int:
    """How many questions method ``name`` runs (the slow ones run on the first few)."""
    if name == "lm":
        return min(args.n, args.lm_n)
    return min(args.n, args.lingua_n) if name in LINGUA_METHODS else args.n


def evaluate(method: Method, example: Record, index: int, ratio: float) -> Record:
    """Compress one example at one ratio and score it.

    Every document's kept text is the method's own per-document output, or its compressed
    context mapped back to the documents (align.py): one rule for the support columns and
    the error analysis of every method.
    """
    docs = documents_of(example)
    question = str(example["question"])
    outcome = method(docs, question, ratio, index)
    mapped = outcome.doc_texts is None
    texts = split_by_document(outcome.context, docs) if mapped else outcome.doc_texts
    assert texts is not None
    gold = [int(g) for g in example.get("gold", [])]
    kept = [document_kept(docs[g], texts[g]) for g in gold]
    answers = [str(a) for a in example["answers"]]
    found = answer_kept(answers, outcome.context)
    return {
        "ratio": ratio, "index": index, "id": example["id"], "answers": answers,
        "original": COUNTER.count(assemble(docs, question)),
        "engine_original": outcome.engine_original, "target": outcome.target,
        "achieved": outcome.achieved, "recounted": COUNTER.count(outcome.prompt),
        "ms": round(outcome.ms, 2), "question_last": outcome.prompt.endswith(question),
        "answer_kept": found, "stage": None if found else loss_stage(answers, docs, texts),
        "gold": gold, "gold_kept": kept, "support_kept": sum(kept) / len(kept) if kept else None,
        "docs_kept": sum(1 for d, t in zip(docs, texts, strict=True) if document_kept(d, t)),
        "mapped": mapped,
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
    """Run everything; save the records; print the report; write the files built from them."""
    if args.lm_path is None and set(args.method_list) & set(LINGUA_METHODS):
        from tersify.models import smollm2_path

        args.lm_path = str(smollm2_path())
    records, peaks, failures = run_all(args)
    meta = describe_run(shlex.join(["python", *sys.argv]), args.data, machine_line,
                        args.method_list, failures)
    prefix = Path(args.out) if args.out else REPO / "benchmarks" / "results" / Path(args.data).stem
    prefix.parent.mkdir(parents=True, exist_ok=True)
    saved = prefix.with_name(prefix.name + RECORDS_SUFFIX)
    save_records(saved, meta, records, peaks)
    meta, records, peaks = load_records(saved)  # build from the file, as report.py rebuilds
    print(render(meta, records, peaks))
    questions = {str(e["id"]): str(e["question"]) for e in load(resolve_data(args.data), args.n)}
    written = publish(prefix, meta, records, peaks, questions)
    print(f"\nwrote {saved}, " + ", ".join(str(p) for p in written), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: the driver, or one method's worker when ``--worker`` is given."""
    args = parse_args(argv)
    if args.worker:
        run_worker(args)
    else:
        report(args, machine())


if __name__ == "__main__":
    main()
