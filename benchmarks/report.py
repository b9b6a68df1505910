"""The benchmark's report, built from its per-example records alone.

run.py keeps every example's record in ``<prefix>_records.jsonl.gz`` (first line: the run's
description, last lines: each method's peak memory) and builds ``<prefix>.md``,
``<prefix>_errors.md`` and ``<prefix>.png`` from that file with :func:`publish`, so any figure
can be re-derived from the committed records:

    python benchmarks/report.py benchmarks/results/nq20

rebuilds the three files (the error report names each question when the data file named in
the records is there).
"""

from __future__ import annotations

import datetime
import gzip
import json
import os
import platform
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chart import draw_chart
from errors import error_report
from tables import engine_checks, recall_grid, rows_of, table

import tersify

__all__ = ["describe_run", "load_average", "load_records", "machine", "publish", "render",
           "save_records", "shared_questions"]

Record = dict[str, Any]
RECORDS_SUFFIX = "_records.jsonl.gz"


def machine() -> str:
    """Cores, CPU model and load average of this machine, in words."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cores} cores (nproc), {model}; load average at start {load_average()}"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (timings mean little when another job runs)."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def write_table_page(out: str, title: str, machine_line: str, request: str,
                     rows: Sequence[str]) -> None:
    """A small results page (title, date, machine, command, request, table) at ``out``."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = shlex.join(["python", *sys.argv])
    text = "\n".join([f"# {title}", "", f"- date: {now}",
                      f"- machine: {machine_line}; at end {load_average()}",
                      f"- command: `{command}`", f"- request: {request}", "", *rows, ""])
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text, encoding="utf-8")
    print(f"\nwrote {out}", file=sys.stderr)


def describe_run(command: str, data: str, machine_line: str, methods: Sequence[str],
                 failures: Sequence[str]) -> dict[str, Any]:
    """The run's description, kept as the first line of its records."""
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "machine": f"{machine_line}; at end {load_average()}",
        "software": f"Python {platform.python_version()}, tersify {tersify.__version__}",
        "data": data, "command": command, "methods": list(methods),
        "failures": list(failures),
    }


def save_records(path: Path, meta: Mapping[str, Any], records: Sequence[Record],
                 peaks: Mapping[str, float]) -> None:
    """Write the description, the records and the peaks as gzip'd JSON lines."""
    lines = [{"meta": dict(meta)}, *records,
             *({"method": name, "peak_mb": round(mb, 1)} for name, mb in peaks.items())]
    # No name, mtime 0: the same records give the same bytes.
    with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as fh:
        fh.write("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines).encode())


def load_records(path: Path) -> tuple[dict[str, Any], list[Record], dict[str, float]]:
    """The description, the records and the peak memory by method of a saved run."""
    meta: dict[str, Any] = {}
    records: list[Record] = []
    peaks: dict[str, float] = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            item = json.loads(line)
            if "meta" in item:
                meta = item["meta"]
            elif "peak_mb" in item:
                peaks[str(item["method"])] = float(item["peak_mb"])
            else:
                records.append(item)
    return meta, records, peaks


def shared_questions(records: Sequence[Record]) -> int:
    """How many first questions every method ran."""
    counts: dict[str, set[int]] = {}
    for r in records:
        counts.setdefault(str(r["method"]), set()).add(int(r["index"]))
    return min((len(v) for v in counts.values()), default=0)


def _header(meta: Mapping[str, Any]) -> str:
    return "\n".join([
        f"# tersify benchmark: {os.path.basename(str(meta['data']))}",
        "",
        f"- date: {meta['date']}",
        f"- machine: {meta['machine']}",
        f"- software: {meta['software']}",
        f"- data: `{meta['data']}`",
        f"- command: `{meta['command']}`",
        "",
        "recall: share of questions whose gold answer survives in the compressed contexts "
        "(SQuAD-normalized substring, question excluded). achieved/target: compressed tokens / "
        "budget (cl100k_base), median [min-max]; in-band: share within [0.95, 1.00]. kept: mean "
        "compressed / original tokens. p50/p95 ms: latency of cold calls (the scorer ran; "
        "warm-up excluded), n lat: how many; peak MB: max RSS of the method's own process.",
        "",
    ])


def render(meta: Mapping[str, Any], records: Sequence[Record],
           peaks: Mapping[str, float]) -> str:
    """The markdown report of a run: same-question tables first, then all questions."""
    order = list(meta["methods"])
    support = any(len(r["gold"]) > 1 for r in records)
    shared = shared_questions(records)
    total = max((int(r["index"]) + 1 for r in records), default=0)
    same = [r for r in records if int(r["index"]) < shared]
    parts = [_header(meta)]
    if shared < total:
        parts += [f"Recall on the same first {shared} questions, every method:", "",
                  recall_grid(same, order), "",
                  f"Every method on the same first {shared} questions:", "",
                  table(rows_of(same, peaks, order), support=support), "",
                  f"All questions each method ran (up to {total}; n says how many):", ""]
    parts.append(table(rows_of(records, peaks, order), support=support))
    notes = engine_checks(records) + [f"- {f}" for f in meta.get("failures", [])]
    if notes:
        parts += ["", "Checks:", *notes]
    return "\n".join(parts) + "\n"


def publish(prefix: Path, meta: Mapping[str, Any], records: Sequence[Record],
            peaks: Mapping[str, float], questions: Mapping[str, str]) -> list[Path]:
    """Write ``<prefix>.md``, ``<prefix>_errors.md`` and ``<prefix>.png``; their paths."""
    order = list(meta["methods"])
    shared = shared_questions(records)
    same = [r for r in records if int(r["index"]) < shared]
    md = prefix.with_name(prefix.name + ".md")
    md.write_text(render(meta, records, peaks), encoding="utf-8")
    errors = prefix.with_name(prefix.name + "_errors.md")
    errors.write_text(error_report(same, order, questions), encoding="utf-8")
    support = any(len(r["gold"]) > 1 for r in records)
    chart = draw_chart(rows_of(same, peaks, order), prefix.with_name(prefix.name + ".png"),
                       f"{os.path.basename(str(meta['data']))}, first {shared} questions",
                       support=support)
    return [md, errors] + ([chart] if chart else [])


def _questions(data: str) -> dict[str, str]:
    path = Path(data)
    if not path.is_absolute() and not path.exists():
        path = Path(__file__).resolve().parent.parent / path
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as fh:
        return {str(e["id"]): str(e["question"]) for e in map(json.loads, fh)}


def main(argv: Sequence[str] | None = None) -> None:
    """Rebuild a run's report from ``<prefix>_records.jsonl.gz``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        sys.exit("usage: python benchmarks/report.py RESULTS_PREFIX (e.g. benchmarks/results/nq20)")
    prefix = Path(args[0])
    meta, records, peaks = load_records(prefix.with_name(prefix.name + RECORDS_SUFFIX))
    for path in publish(prefix, meta, records, peaks, _questions(str(meta["data"]))):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
