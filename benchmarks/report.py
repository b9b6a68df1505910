"""The markdown report: a header describing the run and one table row per method and ratio."""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Mapping, Sequence
from typing import Any

import tersify

__all__ = ["header", "load_average", "machine", "table"]


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
