"""The benchmark's PNG: answer recall against ratio (one line per method) and latency, log axis.

Data with several supporting documents a question (MuSiQue) gets a third panel: the share of
questions that kept all of their supporting documents. ``none`` (no compression) is drawn as a
dashed level. Needs matplotlib (``pip install -e .[bench]``); without it no chart is drawn.

Redraw a run's chart from its records: ``python benchmarks/chart.py benchmarks/results/nq20``
(reads ``nq20_examples.jsonl``, keeps the questions every method ran, writes ``nq20.png``).
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
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8,
                  frameon=False)
    figure.suptitle(title)
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _panel(axis: Any, rows: Sequence[Mapping[str, Any]], key: str, label: str, log: bool) -> None:
    methods = list(dict.fromkeys(str(r["method"]) for r in rows))
    for name in methods:
        mine = sorted((float(r["ratio"]), float(r["summary"][key])) for r in rows
                      if r["method"] == name and key in r["summary"])
        if not mine:
            continue
        if name == "none" and log:
            continue  # nothing to time
        if name == "none":
            axis.axhline(mine[0][1], linestyle="--", color="grey", label="none (uncompressed)")
            continue
        axis.plot([x for x, _ in mine], [y for _, y in mine], marker="o", label=name)
    axis.set_xlabel("target ratio (compressed / original tokens)")
    axis.set_ylabel(label)
    axis.invert_xaxis()
    if log:
        axis.set_yscale("log")
    else:
        axis.set_ylim(0, 1.02)
    axis.grid(alpha=0.3)


def main(argv: Sequence[str] | None = None) -> None:
    """Redraw ``<prefix>.png`` from ``<prefix>_examples.jsonl``."""
    import json
    import sys

    from report import rows_of

    prefix = Path((argv if argv is not None else sys.argv[1:])[0])
    records = [json.loads(line) for line in
               prefix.with_name(prefix.name + "_examples.jsonl").read_text("utf-8").splitlines()]
    order = list(dict.fromkeys(str(r["method"]) for r in records))
    counts = {m: len({r["index"] for r in records if r["method"] == m}) for m in order}
    shared = min(counts.values())
    same = [r for r in records if int(r["index"]) < shared]
    support = any(len(r["gold"]) > 1 for r in records)
    draw_chart(rows_of(same, {}, order), prefix.with_name(prefix.name + ".png"),
               f"{prefix.name}.jsonl, first {shared} questions", support=support)


if __name__ == "__main__":
    main()
