"""The report's tables: one row per method and ratio, a recall grid, and the budget checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from metrics import summarize

__all__ = ["engine_checks", "recall_grid", "rows_of", "table"]

Record = dict[str, Any]

_COLUMNS = ["method", "ratio", "n", "recall", "achieved/target", "in-band", "kept",
            "p50 ms", "p95 ms", "n lat", "peak MB"]
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
        cells += [_maybe(s, "support_recall", 3), _maybe(s, "support_all", 3)]
    peak = row["peak_mb"]
    cells += [
        f"{s['fit_median']:.3f} [{s['fit_min']:.3f}-{s['fit_max']:.3f}]",
        f"{s['in_band']:.2f}",
        f"{s['kept_ratio']:.3f}",
        _maybe(s, "p50_ms", 1),
        _maybe(s, "p95_ms", 1),
        str(int(s["n_lat"])),
        "-" if peak is None else f"{peak:.0f}",
    ]
    return cells


def _maybe(summary: Mapping[str, float], key: str, digits: int) -> str:
    return f"{summary[key]:.{digits}f}" if key in summary else "-"


def rows_of(
    records: Sequence[Record], peaks: Mapping[str, float], order: Sequence[str]
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
                             "peak_mb": peaks.get(method)})
    return rows


def recall_grid(records: Sequence[Record], order: Sequence[str]) -> str:
    """Markdown: answer recall by method (rows) and ratio (columns), with each row's n."""
    ratios = sorted({float(r["ratio"]) for r in records}, reverse=True)
    lines = ["| method | n | " + " | ".join(f"{x:.2f}" for x in ratios) + " |",
             "|---|---|" + "---|" * len(ratios)]
    for name in order:
        mine = [r for r in records if r["method"] == name]
        if not mine:
            continue
        cells = []
        for ratio in ratios:
            hits = [r["answer_kept"] for r in mine if float(r["ratio"]) == ratio]
            cells.append(f"{sum(hits) / len(hits):.3f}" if hits else "")
        questions = len({int(r["index"]) for r in mine})
        lines.append(f"| {name} | {questions} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
