"""Throughput of ``tersify batch``: one process against local Ray Data, per preset.

    python benchmarks/batch.py --data /work/shared/eval/nq20.jsonl --n 2000 --accurate-n 300

Each of the first ``--n`` nq20 questions (file order; ``--accurate-n`` for ``accurate``, whose
model makes a row ~0.5 s) becomes one request: its 20 documents ``f"{title}\\n{text}"``, the
question, ``target_ratio`` 0.25, and its nq20 id. The corpus is written to a temporary
directory, never into the project. Every (preset, mode) runs in a subprocess of its own, so
each peak memory is its own:

- ``one``: ``compress_corpus`` in that process;
- ``ray``: ``ray.init(num_cpus=2)`` in that process (the driver) and ``compress_corpus(use_ray=
  True)`` with ``--workers`` actors of one CPU each.

rows/s is over the whole run (Ray's start, the model loads, reading and writing included);
steady rows/s leaves the start-up out: the rate from the moment a tenth of the rows are in the
output (a thread counts its lines every 20 ms) to the end. Peak MB is ``ru_maxrss`` of each
compressing process (the actors' own, as the report gives it) and of the Ray driver.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import machine, write_table_page  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "eval" / "nq20.jsonl"))
    p.add_argument("--n", type=int, default=2000, help="rows for fast")
    p.add_argument("--accurate-n", type=int, default=300, help="rows for accurate")
    p.add_argument("--presets", default="fast,accurate")
    p.add_argument("--modes", default="one,ray")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "batch.md"))
    p.add_argument("--worker", nargs=4, metavar=("PRESET", "MODE", "CORPUS", "OUT"),
                   help=argparse.SUPPRESS)
    return p.parse_args(argv)


def write_corpus(data: Path, n: int, path: Path) -> Path:
    """The first ``n`` questions of ``data`` as native requests, one per line."""
    with data.open(encoding="utf-8") as rows, path.open("w", encoding="utf-8") as out:
        for _, line in zip(range(n), rows):
            row = json.loads(line)
            request = {"id": row["id"], "question": row["question"], "target_ratio": 0.25,
                       "contexts": [f"{c['title']}\n{c['text']}" for c in row["contexts"]]}
            out.write(json.dumps(request, ensure_ascii=False) + "\n")
    return path


def worker(preset: str, mode: str, corpus: str, out: str, args: argparse.Namespace) -> None:
    """One run, in this process; prints its figures as one JSON line."""
    from tersify.integrations.batch import BatchOptions, compress_corpus

    started = time.perf_counter()
    if mode == "ray":
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 object_store_memory=300 * 2**20)
    options = BatchOptions(preset=preset, use_ray=mode == "ray", workers=args.workers,
                           batch_size=args.batch_size, progress=False)
    tenth: list[float] = []  # when a tenth of the rows were written
    n = Path(corpus).read_bytes().count(b"\n")
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(Path(out), max(1, n // 10), tenth, stop))
    watcher.start()
    try:
        report = compress_corpus(corpus, out, options, log=sys.stderr)
    finally:
        stop.set()
        watcher.join()
    seconds = time.perf_counter() - started
    steady = (n - max(1, n // 10)) / (time.perf_counter() - tenth[0]) if tenth else 0.0
    print(json.dumps({"written": report.written, "bad": report.bad, "seconds": seconds,
                      "steady": steady, "first_tenth_s": (tenth[0] - started) if tenth else 0,
                      "workers": dict(report.peak_rss_mb),
                      "driver": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _watch(out: Path, rows: int, when: list[float], stop: threading.Event) -> None:
    """Note in ``when`` the time ``out`` first holds ``rows`` lines (reading only what is new)."""
    seen, offset = 0, 0
    while not stop.wait(0.02):
        if not out.exists():
            continue
        with out.open("rb") as file:
            file.seek(offset)
            new = file.read()
        seen, offset = seen + new.count(b"\n"), offset + len(new)
        if seen >= rows:
            when.append(time.perf_counter())
            return


def measure(preset: str, mode: str, corpus: Path, scratch: Path) -> dict[str, Any]:
    out = scratch / f"{preset}-{mode}-{corpus.stem}.jsonl"
    out.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, __file__, "--worker", preset, mode, str(corpus), str(out),
         *sys.argv[1:]], capture_output=True, text=True, check=False,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    if done.returncode != 0:
        raise SystemExit(f"{preset}/{mode} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def row(preset: str, mode: str, n: int, big: dict[str, Any]) -> str:
    peaks = sorted(big["workers"].values())
    driver = f"{big['driver']:.0f}" if mode == "ray" else "-"
    return (f"| {preset} | {'1 process' if mode == 'one' else 'Ray, 2 actors'} | {n} | "
            f"{big['written']} | {big['seconds']:.1f} | {n / big['seconds']:.1f} | "
            f"{big['steady']:.1f} | {big['first_tenth_s']:.1f} | "
            f"{' / '.join(f'{p:.0f}' for p in peaks)} | {driver} |")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker(*args.worker, args=args)
        return
    machine_line = machine()
    rows = ["| preset | mode | rows | written | seconds | rows/s | steady rows/s | first "
            "tenth s | peak MB per worker | driver MB |", "|---" * 10 + "|"]
    with tempfile.TemporaryDirectory(prefix="tersify-batch-") as tmp:
        scratch = Path(tmp)
        for preset in args.presets.split(","):
            n = args.accurate_n if preset == "accurate" else args.n
            corpus = write_corpus(Path(args.data), n, scratch / f"corpus-{n}.jsonl")
            for mode in args.modes.split(","):
                rows.append(row(preset, mode, n, measure(preset, mode, corpus, scratch)))
                print(rows[-1], flush=True)
    write_table_page(
        args.out, "tersify batch benchmark", machine_line,
        f"the first N nq20 questions (20 documents, ~2,400 cl100k tokens each), target_ratio "
        f"0.25, JSON Lines in and out; `compress_corpus` in one process, or on local Ray Data "
        f"(`ray.init(num_cpus=2)`, {args.workers} actors of 1 CPU, batch size "
        f"{args.batch_size}). seconds and rows/s: the whole run in a fresh process (Ray's "
        f"start and model loading included); first tenth s: until a tenth of the rows were "
        "written; steady rows/s: the rate from then to the end; peak MB: "
        "ru_maxrss of each compressing process (the Ray actors) and of the Ray driver", rows)


if __name__ == "__main__":
    main()
