"""How often prose is taken for code: ``looks_like_code`` over every document of the eval sets,
as the benchmark builds them (title line, then text), one after the other, all of a question's
joined into one text, and hard-wrapped at 72 columns (prose laid out like code is the hard case).

    python benchmarks/code_detection.py nq20 musique20 cmrc_zh xquad11
"""

from __future__ import annotations

import argparse
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

from tersify.code import looks_like_code

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"


def layouts(contexts: list[dict[str, str]]) -> Iterator[tuple[str, list[str]]]:
    docs = [f"{c.get('title', '')}\n{c['text']}" for c in contexts]
    yield "document", docs
    yield "joined", ["\n\n".join(docs)]
    yield "wrapped", ["\n".join(textwrap.wrap(d, 72)) for d in docs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", help="names of ../shared/eval/<name>.jsonl")
    for name in parser.parse_args().sets:
        counts: dict[str, list[int]] = {}
        with open(EVAL / f"{name}.jsonl", encoding="utf-8") as rows:
            for line in rows:
                for layout, texts in layouts(json.loads(line)["contexts"]):
                    seen = counts.setdefault(layout, [0, 0])
                    seen[0] += len(texts)
                    seen[1] += sum(map(looks_like_code, texts))
        shown = ", ".join(f"{layout} {hits}/{total}" for layout, (total, hits) in counts.items())
        print(f"{name}: taken for code: {shown}")


if __name__ == "__main__":
    main()
