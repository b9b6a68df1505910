"""Compress a small RAG prompt with each preset and policy; print what each keeps.

    python examples/quickstart.py            # fast preset only (no torch needed)
    python examples/quickstart.py --models   # also the embedding presets
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from importlib.resources import files

from tersify import CompressionRequest, Compressor, Document, available_policies


def main() -> None:
    example = json.loads(files("tersify").joinpath("data/example.json").read_text("utf-8"))
    request = CompressionRequest(
        contexts=[Document(text=d["text"], id=d["id"]) for d in example["contexts"]],
        instruction=example["instruction"],
        question=example["question"],
        target_ratio=0.25,
        reorder="relevance",
    )
    presets = ["fast", "balanced", "accurate"] if "--models" in sys.argv else ["fast"]
    for preset in presets:
        result = Compressor(preset=preset).compress(request)
        s = result.stats
        print(f"== preset {preset}: {s.original_tokens} -> {s.compressed_tokens} tokens "
              f"(target {s.target_tokens}) in {result.duration_ms:.0f} ms")
        print(result.compressed_prompt, "\n")
    compressor = Compressor(preset="fast", score_cache_size=4)
    for policy in available_policies():
        result = compressor.compress(replace(request, policy=policy))
        kept = [d.id for d in result.documents if d.kept]
        print(f"{policy:>13}: {result.stats.compressed_tokens} tokens, kept {kept}")


if __name__ == "__main__":
    main()
