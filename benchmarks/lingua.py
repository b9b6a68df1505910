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

Budget: both get the context budget tersify's selection gets (methods.context_budget: the
cl100k target less the question and its separator) as ``target_token``, and
``concate_question=False``. ``llmlingua`` counts ``target_token`` in its model's tokens, so the
budget is converted by the ratio of SmolLM2 to cl100k tokens over the example's documents (both
counted by llmlingua itself: ``get_token_length``, its ``oai_tokenizer`` is cl100k). Its own
``rate`` path would instead count the question in the budget when ``concate_question=False``.
The prompt is then their compressed context, a blank line and the question, counted in
``cl100k_base`` like every other method; achieved/target shows how close they land. They prune
separators and reorder documents, so they return no per-document texts (align.py maps them).

``python benchmarks/lingua.py --logits MODEL_DIR TEXT OUT`` (in the benchmark's environment)
saves the token ids and logits that llmlingua's ``PromptCompressor`` computes for ``TEXT``, and
the per-token losses of its ``get_ppl``: the test that its view of the model is tersify's
(tests/test_benchmark_lingua.py).
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

    def compress(self, docs: Sequence[str], question: str,
                 context_tokens: int) -> tuple[str, float]:
        """The context compressed to about ``context_tokens`` cl100k tokens (question not
        appended) and the milliseconds it took, budget conversion included."""
        started = time.perf_counter()
        target = self.model_tokens(docs, context_tokens)
        out = self._compressor.compress_prompt(list(docs), question=question,
                                               target_token=target, concate_question=False,
                                               **self.options)
        return str(out["compressed_prompt"]), (time.perf_counter() - started) * 1000

    def model_tokens(self, docs: Sequence[str], cl100k_tokens: int) -> float:
        """``cl100k_tokens`` of these documents in SmolLM2 tokens, as llmlingua counts them."""
        count = self._compressor.get_token_length
        model = sum(count(d) for d in docs)
        cl100k = sum(count(d, use_oai_tokenizer=True) for d in docs)
        return max(1.0, cl100k_tokens * model / max(1, cl100k))


def save_model_view(model_path: str, text: str, out: str) -> None:
    """Save what llmlingua's PromptCompressor computes for ``text`` (see the docstring)."""
    import torch
    from llmlingua import PromptCompressor

    with tempfile.TemporaryDirectory(prefix="tersify-bench-") as tmp:
        model_dir = compat_model_dir(Path(model_path), Path(tmp) / "model")
        compressor = PromptCompressor(model_name=str(model_dir), device_map="cpu")
        encoded = compressor.tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            logits = compressor.model(**encoded).logits[0]
        losses = compressor.get_ppl(text, granularity="token")
    torch.save({"ids": encoded["input_ids"][0], "logits": logits, "losses": losses}, out)


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 5 or sys.argv[1] != "--logits":
        sys.exit("usage: python benchmarks/lingua.py --logits MODEL_DIR TEXT OUT")
    save_model_view(*sys.argv[2:])
