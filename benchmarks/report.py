"""The markdown report: a header describing the run and one table row per method and ratio."""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Mapping, Sequence
from typing import Any

from metrics import summarize

import tersify

__all__ = ["engine_checks", "header", "load_average", "machine", "rows_of", "table"]

Record = dict[str, Any]


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


def header(command: str, data: str, machine_line: str) -> str:
    """The lines above the table: date, machine, software, data and the exact command."""
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return "\n".join([
        f"# tersify benchmark: {os.path.basename(data)}",
        "",
        f"- date: {now}",
        f"- machine: {machine_line}; at end {load_average()}",
        f"- software: Python {platform.python_version()}, tersify {tersify.__version__}",
        f"- data: `{data}`",
        f"- command: `{command}`",
        "",
        "recall: share of questions whose gold answer survives in the compressed contexts "
        "(SQuAD-normalized substring, question excluded). achieved/target: compressed tokens / "
        "budget (cl100k_base), median [min-max]; in-band: share within [0.95, 1.00]. kept: mean "
        "compressed / original tokens. Latency of one compression, warm-up call excluded; peak "
        "MB: max RSS of the method's own process.",
        "",
    ])


_COLUMNS = ["method", "ratio", "n", "recall", "achieved/target", "in-band", "kept",
            "p50 ms", "p95 ms", "peak MB"]
_SUPPORT_COLUMNS = ["support recall", "all support"]


def table(rows: Sequence[Mapping[str, Any]], *, support: bool = False) -> str:
    """A markdown table; ``rows`` hold method, ratio, peak_mb and a summary (metrics.summarize).

    ``support`` adds the supporting-document columns (data with several gold documents).
    """
    columns = _COLUMNS[:4] + (_SUPPORT_COLUMNS if support else []) + _COLUMNS[4:]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cells(row, support)) + " |")
    return "\n".join(lines)


def _cells(row: Mapping[str, Any], support: bool) -> list[str]:
    s: Mapping[str, float] = row["summary"]
    ratio = row["ratio"]
    cells = [str(row["method"]), f"{ratio:.2f}" if isinstance(ratio, float) else str(ratio),
             str(int(s["n"])), f"{s['recall']:.3f}"]
    if support:
        cells += [_maybe(s, "support_recall"), _maybe(s, "support_all")]
    cells += [
        f"{s['fit_median']:.3f} [{s['fit_min']:.3f}-{s['fit_max']:.3f}]",
        f"{s['in_band']:.2f}",
        f"{s['kept_ratio']:.3f}",
        f"{s['p50_ms']:.1f}",
        f"{s['p95_ms']:.1f}",
        f"{row['peak_mb']:.0f}",
    ]
    return cells


def _maybe(summary: Mapping[str, float], key: str) -> str:
    return f"{summary[key]:.3f}" if key in summary else "-"


def rows_of(
    records: Sequence[Record], peaks: dict[str, float], order: Sequence[str]
) -> list[Record]:
    """One summarized row per method and ratio, in the order methods and ratios were given."""
    groups: dict[tuple[str, float], list[Record]] = {}
    for r in records:
        groups.setdefault((str(r["method"]), float(r["ratio"])), []).append(r)
    rows: list[Record] = []
    for name in order:
        for (method, ratio), group in groups.items():
            if method == name:
                rows.append({"method": method, "ratio": ratio, "summary": summarize(group),
                             "peak_mb": peaks.get(method, float("nan"))})
    return rows


def engine_checks(records: Sequence[Record]) -> list[str]:
    """Lines about records where the engine's own numbers disagree with ours or miss the budget."""
    notes = []
    for name in dict.fromkeys(str(r["method"]) for r in records):
        mine = [r for r in records if r["method"] == name]
        checks = {
            "over budget (achieved > target)": [r for r in mine if r["achieved"] > r["target"]],
            "stats.compressed_tokens != recount of compressed_prompt":
                [r for r in mine if r["achieved"] != r["recounted"]],
            "stats.original_tokens != count of the uncompressed prompt":
                [r for r in mine if r["engine_original"] not in (None, r["original"])],
            "compressed_prompt does not end with the question":
                [r for r in mine if not r["question_last"]],
        }
        for what, bad in checks.items():
            if bad:
                ids = ", ".join(f"{r['index']}@{r['ratio']}" for r in bad[:5])
                notes.append(f"- {name}: {len(bad)}/{len(mine)} {what} (e.g. {ids})")
    return notes
