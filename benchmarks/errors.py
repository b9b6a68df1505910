"""Where a lost answer was lost: the per-example error analysis of the benchmark.

For every example whose answer did not survive, the stage is read off the output by one rule
for every method. The answer documents are those whose normalized text holds a normalized gold
answer; each is judged on its own compressed text: the method's per-document output, or, for
methods that return one compressed string (LLMLingua), the words of that string mapped back to
the document (align.split_by_document):

- ``document dropped``: the document is not kept, by the rule of the support columns
  (metrics.document_kept: under half of its words survive);
- ``sentence dropped``: the document is kept but under half of the words of the sentence that
  holds the answer (tersify's segmentation of the document) survive;
- ``word dropped``: that sentence survives, the answer's own words do not.

The least severe stage over the answer documents is reported (the one closest to keeping it);
``not in input`` when no document holds the answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from metrics import document_kept, normalize, surviving_share

from tersify.segment import segment

__all__ = ["STAGES", "error_report", "loss_stage"]

STAGES = ("word dropped", "sentence dropped", "document dropped", "not in input")
SENTENCE_FLOOR = 0.5


def loss_stage(answers: Sequence[str], docs: Sequence[str], kept: Sequence[str]) -> str:
    """The stage at which the answer was lost; ``kept[i]`` is document i's surviving text."""
    wanted = [n for n in (normalize(a) for a in answers) if n]
    stages = [_stage(doc, text, wanted) for doc, text in zip(docs, kept, strict=True)
              if any(w in normalize(doc) for w in wanted)]
    return min(stages, key=STAGES.index) if stages else "not in input"


def _stage(doc: str, kept: str, wanted: Sequence[str]) -> str:
    if not document_kept(doc, kept):
        return "document dropped"
    sentence = _answer_sentence(doc, wanted)
    if surviving_share(sentence, kept) < SENTENCE_FLOOR:
        return "sentence dropped"
    return "word dropped"


def _answer_sentence(doc: str, wanted: Sequence[str]) -> str:
    """The first unit of the document that holds an answer (the document when none does)."""
    segmented = segment(doc)
    for unit in segmented.units:
        text = segmented.unit_text(unit)
        if any(w in normalize(text) for w in wanted):
            return text
    return doc


def error_report(records: Sequence[Mapping[str, Any]], order: Sequence[str],
                 questions: Mapping[str, str]) -> str:
    """Markdown: lost answers by stage for each method at the lowest ratio, then each loss."""
    lowest = min(float(r["ratio"]) for r in records if r["method"] != "none")
    at_lowest = [r for r in records if float(r["ratio"]) == lowest and "stage" in r]
    lines = [f"## Lost answers at ratio {lowest:g}, by stage", "",
             "One rule for every method (benchmarks/errors.py): the answer document is judged "
             "on its own kept text; one-string outputs (LLMLingua) are mapped back to the "
             "documents first (benchmarks/align.py).", "",
             "| method | n | lost | " + " | ".join(STAGES) + " |",
             "|---|---|---|" + "---|" * len(STAGES)]
    by_method: dict[str, list[Mapping[str, Any]]] = {}
    for r in at_lowest:
        by_method.setdefault(str(r["method"]), []).append(r)
    for name in order:
        mine = by_method.get(name, [])
        lost = [r for r in mine if r["stage"]]
        counts = Counter(str(r["stage"]) for r in lost)
        if mine:
            lines.append(f"| {name} | {len(mine)} | {len(lost)} | "
                         + " | ".join(str(counts.get(s, 0)) for s in STAGES) + " |")
    for name in order:
        lost = [r for r in by_method.get(name, []) if r["stage"]]
        if lost:
            lines += ["", f"### {name}", ""]
            lines += [f"- #{r['index']} `{r['id']}` {r['stage']}: "
                      f"{questions.get(str(r['id']), '')!r} -> {r['answers'][:3]}" for r in lost]
    return "\n".join(lines) + "\n"
