"""LLMLingua and LongLLMLingua (PyPI ``llmlingua`` 0.2.2, the reference code) as baselines.

They run in the benchmark's own environment (``.venv-bench``, made by ``scripts/dev.py bench``:
torch 2.13.0, ``llmlingua`` and the ``transformers`` 4.46 it works with), never in tersify's,
and drive the same SmolLM2-135M weights that tersify's ``lm`` scorer uses. tersify's converted
copy was written by transformers 5; :func:`compat_model_dir` gives transformers 4.46 a view of
it that it can read (same weights, linked; ``rope_theta`` spelled the old way; the generic fast
tokenizer class), which yields the same logits.

Configurations, from the authors (../shared/reference/anchors.md section 1.3):

- ``llmlingua``: the LLMLingua paper's ``iterative_size=100, context_budget="*2"``;
- ``longllmlingua``: ``condition_in_question="after_condition", reorder_context="sort",
  dynamic_context_compression_ratio=0.3, condition_compare=True, context_budget="+100",
  rank_method="longllmlingua"``.

Both get ``rate=ratio`` and ``concate_question=False``; the prompt is then their compressed
context, a blank line and the question, counted in ``cl100k_base`` like every other method.
They prune separators and reorder documents, so they return no per-document texts.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["CONFIGS", "LinguaMethod", "compat_model_dir"]

CONFIGS: dict[str, dict[str, Any]] = {
    "llmlingua": {"iterative_size": 100, "context_budget": "*2"},
    "longllmlingua": {
        "condition_in_question": "after_condition", "reorder_context": "sort",
        "dynamic_context_compression_ratio": 0.3, "condition_compare": True,
        "context_budget": "+100", "rank_method": "longllmlingua",
    },
}
_LINKED = ("model.safetensors", "tokenizer.json", "generation_config.json")


def compat_model_dir(source: Path, target: Path) -> Path:
    """A transformers-4.46-readable view of a model directory saved by transformers 5."""
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    config.pop("quantization_config", None)
    rope = config.pop("rope_parameters", None) or {}
    if "rope_theta" in rope:
        config["rope_theta"] = rope["rope_theta"]
    if "dtype" in config:
        config["torch_dtype"] = config.pop("dtype")
    tokenizer = json.loads((source / "tokenizer_config.json").read_text(encoding="utf-8"))
    for key in ("backend", "is_local", "local_files_only"):
        tokenizer.pop(key, None)
    tokenizer["tokenizer_class"] = "PreTrainedTokenizerFast"
    target.mkdir(parents=True, exist_ok=True)
    (target / "config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    (target / "tokenizer_config.json").write_text(json.dumps(tokenizer, indent=1), "utf-8")
    for name in _LINKED:
        if (source / name).exists() and not (target / name).exists():
            os.symlink(source / name, target / name)
    return target


class LinguaMethod:
    """One ``llmlingua`` configuration as a benchmark method (see methods.Outcome)."""

    def __init__(self, name: str, model_path: str) -> None:
        from llmlingua import PromptCompressor  # only in the benchmark's own environment

        self.name = name
        self.options = CONFIGS[name]
        self._tmp = tempfile.TemporaryDirectory(prefix="tersify-bench-")
        model_dir = compat_model_dir(Path(model_path), Path(self._tmp.name) / "model")
        self._compressor = PromptCompressor(model_name=str(model_dir), device_map="cpu")

    def compress(self, docs: Sequence[str], question: str, ratio: float) -> tuple[str, float]:
        """The compressed context (question not appended) and the milliseconds it took."""
        started = time.perf_counter()
        out = self._compressor.compress_prompt(list(docs), question=question, rate=ratio,
                                               concate_question=False, **self.options)
        return str(out["compressed_prompt"]), (time.perf_counter() - started) * 1000
