"""Train the document fusion models shipped in ``engine/data/fusion.json``.

    python scripts/train_fusion.py            # about 5 minutes on 2 cores (MiniLM on ~9,000 texts)

Reads only training splits of ``../shared/eval`` (see its README): ``musique_train`` and
``hotpot_train`` (multi-hop, gold paragraphs), ``nq20`` rows 200-399 (outside the benchmark's
0-199 and the tuning rows 1000-1149) and ``dureader_zh`` (Chinese search results). Each
document becomes one row of :func:`tersify.scorers.fusion.features`, labelled 1 when the set
marks it gold. A logistic regression with an L2 penalty is fitted by Newton's method, each set
weighing the same and each question the same within its set, so that no kind of data (nor the
set with most questions) decides alone. Two models: ``lexical`` (the ``fast`` preset: no
encoder) and ``dense`` (adds MiniLM similarity, the ``embedding`` scorer's).

Deterministic: no sampling, a fixed question order, a fixed fold assignment (question index
modulo 5) for the cross-validated figures it prints (gold documents found in the top 2 and 4 by
BM25 alone and by each model, on questions held out of the fit).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tersify.scorers.embedding import EmbeddingScorer
from tersify.scorers.fusion import DENSE_FEATURES, LEXICAL_FEATURES, features
from tersify.scorers.lexical import LexicalScorer
from tersify.segment import segment

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval"
OUT = ROOT / "engine" / "data" / "fusion.json"
# (file, first row, rows): training splits only
SPLITS = (("musique_train.jsonl", 0, 100), ("hotpot_train.jsonl", 0, 100),
          ("nq20.jsonl", 200, 200), ("dureader_zh.jsonl", 0, 200))
L2 = 1e-3
FOLDS = 5


def load(name: str, first: int, count: int) -> list[dict[str, Any]]:
    """Rows ``first`` to ``first + count - 1`` of an eval file."""
    with (EVAL / name).open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return rows[first : first + count]


def question_rows(example: dict[str, Any], lexical: LexicalScorer,
                  similarity: Any) -> tuple[list[dict[str, float]], list[int]]:
    """One feature row per document (dense included) and the gold labels."""
    texts = [f"{c['title']}\n{c['text']}" for c in example["contexts"]]
    _, evidence = lexical.evidence(example["question"], [segment(t) for t in texts])
    dense = similarity(example["question"], texts)
    gold = set(example["gold"])
    return features(evidence, dense), [int(i in gold) for i in range(len(texts))]


class Similarity:
    """MiniLM cosine similarity of each text to the question (the embedding scorer's encoder),
    optionally remembered in a file: the features can then change without re-encoding."""

    def __init__(self, cache: Path | None) -> None:
        self.cache = cache
        self.known: dict[str, list[float]] = (
            json.loads(cache.read_text()) if cache and cache.exists() else {})
        self._encoder: EmbeddingScorer | None = None

    def __call__(self, question: str, texts: list[str]) -> list[float]:
        key = json.dumps([question, texts])
        if key not in self.known:
            self._encoder = self._encoder or EmbeddingScorer()
            vectors = self._encoder.embed([question, *texts])
            self.known[key] = [float(x) for x in (vectors[1:] @ vectors[0]).round(4)]
        return self.known[key]

    def save(self) -> None:
        if self.cache:
            self.cache.write_text(json.dumps(self.known))


def fit(x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Weighted L2-penalised logistic regression (bias last, not penalised) by Newton's method."""
    x1 = np.hstack([x, np.ones((len(x), 1))])
    beta = np.zeros(x1.shape[1])
    penalty = np.full(x1.shape[1], L2)
    penalty[-1] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-(x1 @ beta)))
        grad = x1.T @ (weight * (p - y)) + penalty * beta
        hess = (x1.T * (weight * p * (1 - p))) @ x1 + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-9:
            break
    return beta


def found_in_top(scores: np.ndarray, y: np.ndarray, groups: np.ndarray, k: int) -> float:
    """Share of gold documents ranked in the top ``k`` of their question."""
    found = total = 0
    for g in np.unique(groups):
        mine = groups == g
        top = np.argsort(-scores[mine], kind="stable")[:k]
        found += int(y[mine][top].sum())
        total += int(y[mine].sum())
    return found / max(total, 1)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="weights file (default: %(default)s)")
    parser.add_argument("--dense-cache", type=Path, default=None,
                        help="keep MiniLM similarities in this JSON file across runs")
    args = parser.parse_args(argv)
    lexical, similarity = LexicalScorer(fusion="bm25"), Similarity(args.dense_cache)
    rows: list[dict[str, float]] = []
    labels, groups, weights, sets = [], [], [], []
    for s, (name, first, count) in enumerate(SPLITS):
        examples = load(name, first, count)
        for q, example in enumerate(examples):
            found, gold = question_rows(example, lexical, similarity)
            rows += found
            labels += gold
            groups += [s * 10_000 + q] * len(gold)
            weights += [1 / (len(examples) * len(gold))] * len(gold)
            sets += [s] * len(gold)
        print(f"{name}: {len(examples)} questions", file=sys.stderr)
    y, g, w, st = map(np.array, (labels, groups, weights, sets))
    models = {}
    for model, names in (("lexical", LEXICAL_FEATURES), ("dense", DENSE_FEATURES)):
        x = np.array([[r[f] for f in names] for r in rows])
        beta = fit(x, y, w)
        models[model] = {"features": list(names),
                         "weights": [round(float(b), 6) for b in beta[:-1]],
                         "bias": round(float(beta[-1]), 6)}
        report(model, x, y, g, w, st)
    args.out.write_text(json.dumps({
        "trained_on": [f"{n} rows {a}-{a + c - 1}" for n, a, c in SPLITS],
        "command": "python scripts/train_fusion.py", "l2": L2, "models": models}, indent=1) + "\n")
    similarity.save()
    print(f"wrote {args.out}")
    return 0


def report(model: str, x: np.ndarray, y: np.ndarray, g: np.ndarray, w: np.ndarray,
           st: np.ndarray) -> None:
    """Cross-validated gold-in-top-k per training set: BM25 alone against the model."""
    held = np.zeros(len(y))
    fold = (g % 10_000) % FOLDS
    for f in range(FOLDS):
        train = fold != f
        beta = fit(x[train], y[train], w[train])
        held[~train] = np.hstack([x[~train], np.ones((int((~train).sum()), 1))]) @ beta
    bm25 = x[:, list(DENSE_FEATURES if model == "dense" else LEXICAL_FEATURES).index("bm25")]
    for s, (name, _, _) in enumerate(SPLITS):
        m = st == s
        figures = [f"top{k} bm25 {found_in_top(bm25[m], y[m], g[m], k):.3f} "
                   f"{model} {found_in_top(held[m], y[m], g[m], k):.3f}" for k in (2, 4)]
        print(f"{model:8s} {name:20s} " + "  ".join(figures))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
