"""Where ``target_ratio="auto"`` lands: its (achieved ratio, answer recall) beside fixed ratios.

    python benchmarks/auto_budget.py --sets ../shared/eval/musique_train.jsonl:0:100 \\
        --mass 0.2,0.3,0.4,0.5      # choose the knob on training splits
    python benchmarks/auto_budget.py  # report it on the dev sets

For each set and preset it compresses every question at the fixed ratios and with ``auto`` (for
each ``--mass``, the preset's ``Tuning.auto_mass``), and prints the mean achieved ratio and
recall of each, plus the recall a fixed ratio would give at auto's achieved ratio (linear
between the two nearest fixed ratios): auto earns its place when its recall is above that.
"""

from __future__ import annotations

import argparse
import bisect
import statistics
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics import answer_kept  # noqa: E402
from run import documents_of, resolve_data  # noqa: E402
from tune import questions  # noqa: E402

import tersify  # noqa: E402
from tersify.presets import get_preset  # noqa: E402

FIXED = (0.05, 0.1, 0.15, 0.2, 0.25, 0.33, 0.5)
DEV = ",".join(f"../shared/eval/{s}" for s in (
    "nq20.jsonl:0:200", "musique20.jsonl:0:200", "dureader_zh.jsonl:0:177", "cmrc_zh.jsonl:0:200"))


def point(compressor: tersify.Compressor, examples: Sequence[dict[str, Any]],
          ratio: float | str) -> tuple[float, float]:
    """Mean achieved ratio and answer recall at ``ratio``."""
    ratios, kept = [], []
    for example in examples:
        result = compressor.compress(contexts=documents_of(example),
                                     question=str(example["question"]), target_ratio=ratio)
        context = "\n\n".join(d.text for d in result.documents if d.text)
        ratios.append(result.stats.ratio)
        kept.append(answer_kept(example["answers"], context))
    return statistics.fmean(ratios), statistics.fmean(kept)


def on_curve(curve: list[tuple[float, float]], ratio: float) -> float:
    """Recall of the fixed-ratio curve at ``ratio`` (linear between points, flat outside)."""
    xs = [x for x, _ in curve]
    i = bisect.bisect_left(xs, ratio)
    if i == 0 or i == len(curve):
        return curve[min(i, len(curve) - 1)][1]
    (x0, y0), (x1, y1) = curve[i - 1], curve[i]
    return y0 + (y1 - y0) * (ratio - x0) / (x1 - x0)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--sets", default=DEV, help="file:first:count,... (default: %(default)s)")
    p.add_argument("--presets", default="fast")
    p.add_argument("--mass", default=None, help="auto_mass values (default: the preset's)")
    args = p.parse_args(argv)
    print("| set | preset | auto_mass | auto ratio | auto recall | fixed recall there |")
    print("|---|---|---|---|---|---|")
    for item in args.sets.split(","):
        name, first, count = item.rsplit(":", 2)
        examples = list(questions(resolve_data(name), int(first), int(count)))
        for preset in args.presets.split(","):
            tuning = get_preset(preset).tuning
            fixed = tersify.Compressor(preset=preset)
            curve = sorted(point(fixed, examples, r) for r in FIXED)
            values = [float(x) for x in args.mass.split(",")] if args.mass else [
                tuning.auto_mass]
            for mass in values:
                auto = tersify.Compressor(preset=preset,
                                          tuning=replace(tuning, auto_mass=mass))
                ratio, recall = point(auto, examples, "auto")
                print(f"| {Path(name).stem} {first}-{int(first) + int(count) - 1} | {preset} "
                      f"| {mass} | {ratio:.3f} | {recall:.3f} | {on_curve(curve, ratio):.3f} |",
                      flush=True)


if __name__ == "__main__":
    main()
