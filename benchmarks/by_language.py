"""Answer recall per language from a benchmark's records (xquad11: ids start with the language).

    python benchmarks/by_language.py benchmarks/results/xquad11_records.jsonl.gz

Prints one row per language and one column per (method, ratio), from the records that
``benchmarks/run.py`` wrote (``<out>_records.jsonl.gz``).
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import defaultdict
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", help="a run's <out>_records.jsonl.gz")
    args = parser.parse_args(argv)
    hits: dict[tuple[str, str, float], list[bool]] = defaultdict(list)
    with gzip.open(args.records, "rt", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            if "answer_kept" in record:
                language = str(record["id"]).split("-", 1)[0]
                hits[(language, record["method"], record["ratio"])].append(record["answer_kept"])
    columns = sorted({(m, r) for _, m, r in hits}, key=lambda c: (c[0], -c[1]))
    print("| language | " + " | ".join(f"{m} @{r}" for m, r in columns) + " |")
    print("|---" * (1 + len(columns)) + "|")
    for language in sorted({lang for lang, _, _ in hits}):
        cells = [hits.get((language, m, r), []) for m, r in columns]
        print(f"| {language} | " + " | ".join(
            f"{sum(c) / len(c):.2f}" if c else "" for c in cells) + " |")


if __name__ == "__main__":
    main()
