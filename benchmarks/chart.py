"""The benchmark's PNG: answer recall against ratio (one line per method) and latency, log axis.

Data with several supporting documents a question (MuSiQue) gets a third panel: the share of
questions that kept all of their supporting documents. ``none`` (no compression) is drawn as a
dashed level. Needs matplotlib (``pip install -e .[bench]``); without it no chart is drawn.

Redraw a run's chart from its records: ``python benchmarks/chart.py benchmarks/results/nq20``
(reads ``nq20_records.jsonl.gz``, keeps the questions every method ran, writes ``nq20.png``);
``python benchmarks/report.py`` rebuilds it with the tables. Latency points are the medians of
cold calls; a ratio without any has no point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["draw_chart"]


def draw_chart(rows: Sequence[Mapping[str, Any]], path: Path, title: str, *,
               support: bool = False) -> Path | None:
    """Draw ``rows`` (report.rows_of) into ``path``; None when matplotlib is not installed.

    ``support`` adds the supporting-documents panel.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    panels = [("recall", "answer recall", False)]
    if support:
        panels.append(("support_all", "all supporting documents kept", False))
    panels.append(("p50_ms", "median latency, ms (log)", True))
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.8))
    for axis, (key, label, log) in zip(axes, panels, strict=True):
        _panel(axis, rows, key, label, log)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(len(labels), 7), fontsize=8,
                  frameon=False)
    figure.suptitle(title)
    figure.tight_layout(rect=(0, 0.07 if len(labels) <= 7 else 0.12, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _panel(axis: Any, rows: Sequence[Mapping[str, Any]], key: str, label: str, log: bool) -> None:
    methods = list(dict.fromkeys(str(r["method"]) for r in rows))
    for i, name in enumerate(methods):
        mine = sorted((float(r["ratio"]), float(r["summary"][key])) for r in rows
                      if r["method"] == name and key in r["summary"])
        if not mine:
            continue
        if name == "none" and log:
            continue  # nothing to time
        if name == "none":
            axis.axhline(mine[0][1], linestyle="--", color="grey", label="none (uncompressed)")
            continue
        # The colour cycle has 10 entries: the next ten methods get dashed lines.
        axis.plot([x for x, _ in mine], [y for _, y in mine], marker="o", label=name,
                  linestyle=("-", "--", ":")[i // 10 % 3])
    axis.set_xlabel("target ratio (compressed / original tokens)")
    axis.set_ylabel(label)
    axis.invert_xaxis()
    if log:
        axis.set_yscale("log")
    else:
        axis.set_ylim(0, 1.02)
    axis.grid(alpha=0.3)


def main(argv: Sequence[str] | None = None) -> None:
    """Redraw ``<prefix>.png`` from ``<prefix>_records.jsonl.gz``."""
    import sys

    from report import RECORDS_SUFFIX, load_records, shared_questions
    from tables import rows_of

    prefix = Path((argv if argv is not None else sys.argv[1:])[0])
    meta, records, peaks = load_records(prefix.with_name(prefix.name + RECORDS_SUFFIX))
    shared = shared_questions(records)
    same = [r for r in records if int(r["index"]) < shared]
    support = any(len(r["gold"]) > 1 for r in records)
    draw_chart(rows_of(same, peaks, meta["methods"]), prefix.with_name(prefix.name + ".png"),
               f"{Path(str(meta['data'])).name}, first {shared} questions", support=support)


if __name__ == "__main__":
    main()
