"""How compression time grows with the number of documents (issue 11: linear cost).

    python benchmarks/scaling.py [--counts 100,1000,10000] [--repeat 5]

Compresses N one-word contexts (``word0`` ... ``wordN-1``) at ratio 0.25 with the ``fast``
preset, the worst case for per-document overheads (every document is one word and one
separator), and prints the median seconds per call of ``--repeat`` runs for each N, the
time per document, and whether the budget held. Time per document should stay flat as N grows.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import tersify


def measure(compressor: tersify.Compressor, count: int, repeat: int) -> tuple[float, bool]:
    """Median seconds of ``repeat`` compressions of ``count`` one-word contexts; budget held."""
    contexts = [f"word{i}" for i in range(count)]
    seconds, held = [], True
    for _ in range(repeat):
        started = time.perf_counter()
        result = compressor.compress(contexts=contexts, question="Which word is the answer?",
                                     target_ratio=0.25)
        seconds.append(time.perf_counter() - started)
        held = held and result.stats.compressed_tokens <= result.stats.target_tokens
    return statistics.median(seconds), held


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="100,1000,10000", help="comma-separated N")
    parser.add_argument("--repeat", type=int, default=5, help="runs per N (median reported)")
    args = parser.parse_args(argv)
    compressor = tersify.Compressor(preset="fast")
    measure(compressor, 10, 1)  # warm-up: tokenizer files, imports
    print("| contexts | median s | µs per context | budget held |")
    print("|---|---|---|---|")
    for count in (int(c) for c in args.counts.split(",")):
        seconds, held = measure(compressor, count, args.repeat)
        print(f"| {count:,} | {seconds:.3f} | {seconds / count * 1e6:.1f} | "
              f"{'yes' if held else 'NO'} |", flush=True)


if __name__ == "__main__":
    main()
